"use strict";
// coursehub's JavaScript cells as scripts, for both drivers (learner.js and trusted.js):
// the grader sends this file along with each (Language.shared_files), written beside it.
// A notebook kernel lets a later cell declare a name again (`let x` in two cells) and
// takes `import` statements; a plain script does neither. So a cell's top-level
// `let`/`const` become `var`, a top-level `class C {}` becomes `var C = class C {};`,
// and an `import` statement becomes a `require`. Only top-level code changes (a small
// lexer skips strings, templates, comments and regular expressions); line numbers stay.

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;
// after these tokens a `/` starts a regular expression, not a division
const BEFORE_REGEX = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
  "case", "do", "else", "yield", "await",
]);

function importAsRequire(statement) {
  // import "m" | import X from "m" | import * as X from "m" | import {a, b as c} from "m"
  // | import X, {a} from "m" | import X, * as Y from "m"
  const bare = /^import\s*(["'][^"']*["'])\s*;?$/.exec(statement);
  if (bare) return `require(${bare[1]});`;
  const m = /^import\s+([\s\S]*?)\s+from\s*(["'][^"']*["'])\s*;?$/.exec(statement);
  if (!m) return null;
  const clause = m[1].trim();
  const module = `require(${m[2]})`;
  const parts = [];
  let rest = clause;
  const first = /^([A-Za-z_$][\w$]*)\s*(,\s*)?/.exec(rest);
  let holder = null;
  if (first && !rest.startsWith("{") && !rest.startsWith("*")) {
    holder = first[1];
    parts.push(`${holder} = ${module}`);
    rest = rest.slice(first[0].length);
  }
  const source = holder || module;
  const star = /^\*\s*as\s+([A-Za-z_$][\w$]*)$/.exec(rest);
  if (star) parts.push(`${star[1]} = ${source}`);
  else if (rest.startsWith("{") && rest.endsWith("}")) {
    const names = rest.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean);
    const fields = names.map((name) => {
      const as = /^([\w$]+|"[^"]*")\s+as\s+([\w$]+)$/.exec(name);
      return as ? `${as[1]}: ${as[2]}` : name;
    });
    parts.push(`{${fields.join(", ")}} = ${source}`);
  } else if (rest) return null;
  return parts.length ? `var ${parts.join(", ")};` : null;
}

function cellAsScript(source) {
  const out = [];
  let i = 0;
  let depth = 0; // open ( [ { outside templates
  const templates = []; // for each open `${`, the depth it opened at
  let prev = ""; // the last significant token
  let newlineSincePrev = true;
  let classBody = -1; // depth + 1 of a converted class declaration's body, while open
  let classPending = false; // a converted class declaration whose body has not opened
  const n = source.length;
  const statementStart = () =>
    prev === "" || prev === ";" || prev === "}" || prev === "{" ||
    (newlineSincePrev && !/^[=,.([?:+\-*/%&|^!<>~]$|^=>$/.test(prev));
  while (i < n) {
    const c = source[i];
    if (c === "\n") { newlineSincePrev = true; out.push(c); i++; continue; }
    if (c === " " || c === "\t" || c === "\r") { out.push(c); i++; continue; }
    if (c === "/" && source[i + 1] === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      out.push(source.slice(i, stop)); i = stop; continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      out.push(source.slice(i, stop)); i = stop; continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
      out.push(source.slice(i, j + 1)); i = j + 1; prev = "str"; newlineSincePrev = false; continue;
    }
    if (c === "`" || (c === "}" && templates.length && templates[templates.length - 1] === depth)) {
      if (c === "}") templates.pop();
      let j = i + 1;
      while (j < n && source[j] !== "`" && !(source[j] === "$" && source[j + 1] === "{")) {
        j += source[j] === "\\" ? 2 : 1;
      }
      if (j < n && source[j] === "$") { templates.push(depth); j += 2; } else j += 1;
      out.push(source.slice(i, j)); i = j;
      prev = templates.length && source[j - 1] === "{" ? "(" : "str";
      newlineSincePrev = false;
      continue;
    }
    if (c === "/") {
      const regex = prev === "" || BEFORE_REGEX.has(prev) || /^[=,([{;:?!&|^~+\-*%<>}]$|^=>$/.test(prev);
      if (regex && prev !== "}" && prev !== ")" && prev !== "]") {
        let j = i + 1;
        let inClass = false;
        while (j < n && source[j] !== "\n") {
          if (source[j] === "\\") { j += 2; continue; }
          if (source[j] === "[") inClass = true;
          else if (source[j] === "]") inClass = false;
          else if (source[j] === "/" && !inClass) break;
          j++;
        }
        j++;
        while (j < n && WORD.test(source[j])) j++;
        out.push(source.slice(i, j)); i = j; prev = "re"; newlineSincePrev = false; continue;
      }
    }
    if (WORD.test(c)) {
      let j = i;
      while (j < n && WORD.test(source[j])) j++;
      const word = source.slice(i, j);
      const top = depth === 0 && templates.length === 0;
      const afterDot = prev === ".";
      if (top && !afterDot && statementStart()) {
        if (word === "let" || word === "const") {
          const next = /^\s*([A-Za-z_$\[{])/.exec(source.slice(j));
          if (next) {
            out.push(word === "let" ? "var" : "var  ");
            i = j; prev = "var"; newlineSincePrev = false; continue;
          }
        } else if (word === "class") {
          const name = /^\s+([A-Za-z_$][\w$]*)/.exec(source.slice(j));
          if (name) {
            out.push(`var ${name[1]} = class`);
            classPending = true;
            i = j; prev = "class"; newlineSincePrev = false; continue;
          }
        } else if (word === "import" && !/^\s*[.(]/.test(source.slice(j))) {
          // the statement runs to its module string (and an optional `;`)
          const m = /^[\s\S]*?["'][^"'\n]*["']\s*;?/.exec(source.slice(i));
          const statement = m ? m[0] : null;
          const replaced = statement && importAsRequire(statement.trim());
          if (replaced) {
            const lines = statement.split("\n").length - 1;
            out.push(replaced + "\n".repeat(lines));
            i += statement.length; prev = ";"; newlineSincePrev = false; continue;
          }
        }
      }
      out.push(word); i = j; prev = word; newlineSincePrev = false; continue;
    }
    if ("([{".includes(c)) {
      if (c === "{" && classPending && depth === 0 && templates.length === 0) {
        classPending = false; classBody = depth + 1;
      }
      depth++;
    } else if (")]}".includes(c)) {
      depth = Math.max(0, depth - 1);
      if (c === "}" && classBody === depth + 1 && depth === 0) {
        classBody = -1;
        out.push("};"); i++; prev = "}"; newlineSincePrev = false; continue;
      }
    }
    const two = source.slice(i, i + 2);
    if (two === "=>") { out.push(two); i += 2; prev = "=>"; newlineSincePrev = false; continue; }
    out.push(c); i++; prev = c; newlineSincePrev = false;
  }
  return out.join("");
}

module.exports = { cellAsScript };
