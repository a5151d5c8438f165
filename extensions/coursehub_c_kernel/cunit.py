"""C notebook cells as one growing translation unit: what the C kernel and the grader's
C drivers mean by running a cell. Standard library only.

A C notebook is not a REPL: its cells are pieces of one program. The rules, the same in
the learner's JupyterLab (:mod:`coursehub_c_kernel.kernel`) and in grading
(``grader/sandbox/drivers/c/``):

- ``#include`` lines anywhere in a cell are hoisted to the top of the program;
- a cell of *definitions* (functions, global variables, ``struct``/``typedef``/``enum``
  declarations, ``#define``) joins the unit; defining a name again (a function fixed and
  run again) replaces the earlier definition in place;
- a cell of *statements* runs as the body of ``main``, compiled with everything defined
  so far, as a fresh program (globals start from their initial values every time);
- a cell that defines ``main`` itself runs as that program (its other definitions stay);
- a cell that starts with definitions and goes on with statements is both, in order.

Which one a cell is gets decided by the compiler: first as definitions, then as a body,
then split; the diagnostics shown for a cell that is neither are those of the reading
its first item suggests. Programs are built with ``gcc -std=c11 -O1 -Wall -lm``
(implicit function declarations are errors, as in C99 and later and GCC 14).

The grading drivers run inside sandboxes with Debian's bare ``/usr/bin/python3``, which
cannot import this package: the grader sends this file along with each driver
(``Language.shared_files``), written beside it, and the drivers import it from there. So
it keeps to the standard library and imports nothing of the package.
"""

import os
import re
import signal
import subprocess

GCC = "gcc"
CFLAGS = ("-std=c11", "-O1", "-Wall", "-Werror=implicit-function-declaration")
CHECK_FLAGS = ("-std=c11", "-Wall", "-Werror=implicit-function-declaration", "-fsyntax-only")
LIBS = ("-lm",)
DIAGNOSTIC_FLAGS = ("-fdiagnostics-color=never",)
# a program's allocations that fail end it as out of memory (exit status MEMORY_EXIT)
ALLOCATION_WRAPS = ("-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc",)
MEMORY_EXIT = 211
MEMORY_SUPPORT = r"""
typedef __SIZE_TYPE__ size_t;
extern void *__real_malloc(size_t);
extern void *__real_calloc(size_t, size_t);
extern void *__real_realloc(void *, size_t);
extern long syscall(long, ...);
static void out_of_memory(void) {
    static const char message[] = "out of memory: an allocation failed\n";
    syscall(1, 2L, message, (long)(sizeof message - 1));  /* write(2, ...) */
    syscall(231, 211L);  /* exit_group(MEMORY_EXIT) */
    __builtin_trap();
}
void *__wrap_malloc(size_t n) {
    void *p = __real_malloc(n);
    if (!p && n) out_of_memory();
    return p;
}
void *__wrap_calloc(size_t n, size_t size) {
    void *p = __real_calloc(n, size);
    if (!p && n && size) out_of_memory();
    return p;
}
void *__wrap_realloc(void *old, size_t n) {
    void *p = __real_realloc(old, n);
    if (!p && n) out_of_memory();
    return p;
}
"""
if os.uname().machine == "aarch64":  # the generic syscall numbers: write 64, exit_group 94
    MEMORY_SUPPORT = MEMORY_SUPPORT.replace("syscall(1,", "syscall(64,")
    MEMORY_SUPPORT = MEMORY_SUPPORT.replace("syscall(231,", "syscall(94,")

INCLUDE_LINE = re.compile(r"^[ \t]*#[ \t]*include\b[^\n]*$", re.M)
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
DEFINITION_WORDS = ("typedef", "struct", "union", "enum", "static", "extern")
SIGNAL_ERRORS = {
    signal.SIGSEGV: ("SegmentationFault", "invalid memory access (SIGSEGV)"),
    signal.SIGBUS: ("SegmentationFault", "invalid memory access (SIGBUS)"),
    signal.SIGABRT: ("Aborted", "the program aborted (SIGABRT)"),
    signal.SIGFPE: ("ArithmeticError", "arithmetic error, such as a division by zero (SIGFPE)"),
    signal.SIGILL: ("Aborted", "illegal instruction (SIGILL)"),
    signal.SIGKILL: ("Killed", "the program was killed (SIGKILL)"),
}


class CompileError(Exception):
    """gcc refused the program; ``diagnostics`` is what it said."""

    def __init__(self, diagnostics: str):
        super().__init__(diagnostics)
        self.diagnostics = diagnostics


def hoist_includes(source: str) -> tuple[list[str], str]:
    """A cell's ``#include`` lines, and the cell with each of them left as an empty line
    (so that line numbers in diagnostics stay the cell's)."""
    includes = [m.group(0).strip() for m in INCLUDE_LINE.finditer(source)]
    return includes, INCLUDE_LINE.sub("", source)


def _skip_literal(text: str, i: int) -> int:
    """The index after the comment or string/char literal starting at ``i`` (or ``i``)."""
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if text[i] in "\"'":
        quote, j = text[i], i + 1
        while j < len(text) and text[j] != quote and text[j] != "\n":
            j += 2 if text[j] == "\\" else 1
        return min(j + 1, len(text))
    return i


def strip_comments(text: str) -> str:
    """``text`` with its comments replaced by a space (string literals kept)."""
    out, i = [], 0
    while i < len(text):
        j = _skip_literal(text, i)
        if j == i:
            out.append(text[i])
            i += 1
        else:
            out.append(" " if text[i] == "/" else text[i:j])
            i = j
    return "".join(out)


def top_level_items(text: str) -> list[tuple[int, str]]:
    """``text`` cut into its top-level pieces: declarations and statements (up to their
    ``;``), function definitions (up to their body's ``}``), preprocessor lines. Each
    piece comes with the line (1-based) it starts on."""
    items, start, depth, i = [], 0, 0, 0
    last_significant = ""  # the last non-blank character outside comments and literals
    opened_after = []  # for each open brace: the significant character before it
    at_line_start = True
    while i < len(text):
        c = text[i]
        if at_line_start and depth == 0 and c == "#" and not strip_comments(text[start:i]).strip():
            end = i
            while True:  # a directive, with its backslash continuations
                end = text.find("\n", end)
                if end < 0 or text[end - 1] != "\\":
                    break
                end += 1
            end = len(text) if end < 0 else end
            items.append((start, text[start:end]))
            start, i, last_significant = end, end, ""
            continue
        j = _skip_literal(text, i)
        if j != i:
            if text[i] in "\"'":
                last_significant = text[i]
            i = j
            continue
        at_line_start = c == "\n" or (at_line_start and c in " \t")
        if c == "{":
            opened_after.append(last_significant)
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
            before = opened_after.pop() if opened_after else ""
            if depth == 0 and before == ")":  # the end of a function's body
                items.append((start, text[start : i + 1]))
                start = i + 1
        elif c == ";" and depth == 0:
            items.append((start, text[start : i + 1]))
            start = i + 1
        if not c.isspace():
            last_significant = c
        i += 1
    if text[start:].strip() and strip_comments(text[start:]).strip():
        items.append((start, text[start:]))
    lines = []
    for offset, piece in items:
        lines.append((text.count("\n", 0, offset) + 1, piece))
    return [(line, piece) for line, piece in lines if strip_comments(piece).strip()]


def _depth0(text: str) -> str:
    """``text`` (no comments) with everything inside braces removed."""
    out, depth = [], 0
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def is_function_definition(item: str) -> bool:
    code = strip_comments(item).strip()
    if not code.endswith("}") or "{" not in code:
        return False
    head = code[: code.index("{")].rstrip()
    words = IDENTIFIER.findall(head)
    return head.endswith(")") and bool(words) and words[0] not in C_STATEMENT_WORDS


C_STATEMENT_WORDS = {"if", "for", "while", "switch", "do", "else", "return", "case"}


def item_key(item: str) -> str | None:
    """What an item defines (``"function f"``, ``"typedef t"``, ``"struct s"``,
    ``"variable x"``, ``"macro M"``), or None for anything a later one does not replace
    (prototypes, other directives, statements)."""
    code = " ".join(strip_comments(item).split())
    if code.startswith("#"):
        m = re.match(r"#\s*define\s+([A-Za-z_]\w*)", code)
        return f"macro {m.group(1)}" if m else None
    if is_function_definition(code):
        head = code[: code.index("{")]
        m = re.search(r"([A-Za-z_]\w*)\s*\($", head[: head.index("(") + 1])
        return f"function {m.group(1)}" if m else None
    if not code.endswith(";"):
        return None
    flat = _depth0(code)
    words = IDENTIFIER.findall(flat)
    if not words:
        return None
    if words[0] == "typedef":
        m = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", flat)
        return f"typedef {m.group(1) if m else words[-1]}"
    m = re.match(r"(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{.*\}\s*;$", code)
    if m:
        return f"{m.group(1)} {m.group(2)}"
    declarator = re.split(r"[=\[;,]", flat, maxsplit=1)[0]
    if "(" in declarator or len(IDENTIFIER.findall(declarator)) < 2:
        return None  # a prototype, or a statement
    return f"variable {IDENTIFIER.findall(declarator)[-1]}"


def looks_like_definition(item: str) -> bool:
    """Whether an item reads as a definition (to split a mixed cell and to choose which
    diagnostics to show)."""
    code = strip_comments(item).strip()
    words = IDENTIFIER.findall(code[:200])
    return (
        code.startswith("#")
        or is_function_definition(code)
        or (bool(words) and words[0] in DEFINITION_WORDS)
    )


class Unit:
    """The translation unit so far: hoisted ``#include`` lines and definition items
    ``(key, line, text, label)`` in order. Immutable: changes make a new unit."""

    def __init__(self, includes=(), items=()):
        self.includes = tuple(includes)
        self.items = tuple(items)

    def with_includes(self, includes) -> "Unit":
        new = [line for line in includes if line not in self.includes]
        return Unit(self.includes + tuple(dict.fromkeys(new)), self.items)

    def with_items(self, pieces, label: str) -> "Unit":
        items = list(self.items)
        for line, text in pieces:
            key = item_key(text)
            item = (key, line, text, label)
            if key is None:
                if not any(old[0] is None and old[2] == text for old in items):
                    items.append(item)
                continue
            for index, old in enumerate(items):
                if old[0] == key:
                    items[index] = item
                    break
            else:
                items.append(item)
        return Unit(self.includes, items)

    def without(self, key: str) -> "Unit":
        return Unit(self.includes, [item for item in self.items if item[0] != key])

    def keys(self) -> set:
        return {item[0] for item in self.items if item[0]}

    def text(self, body=None, body_line=1, label="cell", main="int main(void)", before="") -> str:
        """The program's source: includes, definitions and, with ``body``, a ``main``
        running it (``before`` is code placed ahead of the body)."""
        parts = [line + "\n" for line in self.includes]
        for _key, line, text, item_label in self.items:
            parts.append(f'#line {line} "{item_label}"\n{text}\n')
        if body is not None:
            parts.append(f'{main} {{\n{before}#line {body_line} "{label}"\n{body}\n;\n')
            parts.append("return 0;\n}\n")
        return "".join(parts)

    def functions(self) -> dict:
        """The unit's function definitions: name -> their header (comments removed,
        blanks collapsed), for the grader to call them."""
        found = {}
        for key, _line, text, _label in self.items:
            if key and key.startswith("function ") and key != "function main":
                code = strip_comments(text)
                found[key[len("function ") :]] = " ".join(code[: code.index("{")].split())
        return found


class Plan:
    """What running a cell means: ``kind`` is "definitions", "statements", "program" or
    "error"; ``unit`` the unit afterwards; ``program`` the source to build and run."""

    def __init__(self, kind, unit=None, program=None, diagnostics=""):
        self.kind, self.unit, self.program, self.diagnostics = kind, unit, program, diagnostics


class Cells:
    """A C notebook's state: the unit so far, and a private work directory where
    programs are checked, built and kept. ``extra_objects`` are linked into every
    program (``support`` is C compiled once into one of them)."""

    def __init__(self, workdir: str, support: str = MEMORY_SUPPORT, link=ALLOCATION_WRAPS):
        self.workdir = workdir
        self.unit = Unit()
        self.link = tuple(link)
        self.support_object = None
        self.support = support
        self.builds = 0

    def gcc(self, flags, source: str, output=None, extra=()) -> str:
        """Run gcc on ``source``; its diagnostics, or raise :class:`CompileError`."""
        path = os.path.join(self.workdir, "cell.c")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        argv = [GCC, *flags, *DIAGNOSTIC_FLAGS, path]
        if output:
            argv += ["-o", output, *extra]
        try:
            done = subprocess.run(
                argv, cwd=self.workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CompileError(f"the C compiler could not run: {e}") from None
        diagnostics = done.stderr.decode("utf-8", "replace")
        diagnostics = diagnostics.replace(path + ":", "").replace(self.workdir + "/", "")
        if done.returncode != 0:
            raise CompileError(diagnostics.strip() or f"gcc exited with status {done.returncode}")
        return diagnostics

    def check(self, source: str) -> tuple[bool, str]:
        try:
            return True, self.gcc(CHECK_FLAGS, source)
        except CompileError as e:
            return False, e.diagnostics

    def plan(self, source: str, label: str, main="int main(void)", before="") -> Plan:
        """Decide what ``source`` is (see the module's docstring); nothing is changed."""
        includes, rest = hoist_includes(source)
        unit = self.unit.with_includes(includes)
        pieces = top_level_items(rest)
        if not pieces:
            ok, diagnostics = self.check(unit.text())
            return (
                Plan("definitions", unit, None, diagnostics)
                if ok
                else Plan("error", diagnostics=diagnostics)
            )
        defined = unit.with_items(pieces, label)
        if "function main" in {item_key(text) for _line, text in pieces}:
            ok, diagnostics = self.check(defined.text())
            if ok:
                return Plan("program", defined.without("function main"), defined.text())
            return Plan("error", diagnostics=diagnostics)
        ok, definitions_said = self.check(defined.text())
        if ok:
            return Plan("definitions", defined, None, definitions_said)
        lead = 0
        while lead < len(pieces) and looks_like_definition(pieces[lead][1]):
            lead += 1
        if 0 < lead < len(pieces):
            # definitions, then statements (tried before the cell as a body: GNU C
            # would take the definitions as functions nested in main)
            split = unit.with_items(pieces[:lead], label)
            # pieces are contiguous slices of the cell: the statements are the rest
            tail = "".join(text for _line, text in pieces[lead:])
            program = split.text(tail, pieces[lead][0], label, main, before)
            ok, _ = self.check(program)
            if ok:
                return Plan("statements", split, program)
        body = unit.text(rest, 1, label, main, before)
        ok, body_said = self.check(body)
        if ok:
            return Plan("statements", unit, body)
        said = definitions_said if looks_like_definition(pieces[0][1]) else body_said
        return Plan("error", diagnostics=said)

    def support_objects(self) -> list[str]:
        if self.support and self.support_object is None:
            path = os.path.join(self.workdir, "support.o")
            self.gcc(("-std=c11", "-O1", "-c"), self.support, path)
            self.support_object = path
        return [self.support_object] if self.support_object else []

    def build(self, program: str, name: str = "program", flags=()) -> str:
        """Compile and link ``program``; the executable's path (CompileError if not)."""
        self.builds += 1
        output = os.path.join(self.workdir, f"{name}-{self.builds}")
        objects = self.support_objects()
        self.gcc((*CFLAGS, *flags), program, output, [*objects, *self.link, *LIBS])
        return output


def describe_exit(returncode: int) -> tuple[str, str] | None:
    """A finished program's status as an error name and message (None: it succeeded)."""
    if returncode == 0:
        return None
    if returncode == MEMORY_EXIT:
        return "MemoryError", "the program ran out of memory (an allocation failed)"
    if returncode < 0:
        number = -returncode
        if number in SIGNAL_ERRORS:
            return SIGNAL_ERRORS[number]
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return "Killed", f"the program was ended by {name}"
    return "ExitStatus", f"the program exited with status {returncode}"


# -- functions a test can call: their prototypes, and values as tokens -------------------
#
# A test calls a learner's function through a stub that sends the arguments as text
# tokens and reads the result back the same way. Supported signatures (anything else is
# refused, with the reason):
#   return: void, a scalar, or a string (char * / const char *, copied; NULL allowed)
#   parameters: a scalar; const char * (a string in); char * (a string changed in place,
#   copied back); a pointer to scalar elements followed by an integer length
#   (int *xs, int n / const double *xs, size_t n; without const, copied back)
#   scalars: int, long, long long, short, signed/unsigned variants, size_t, double, float,
#   char, bool
# Tokens: i<decimal> (signed and bool), u<decimal> (unsigned), d<hex float> (%a),
# s<hex bytes> (a string), n (NULL), a<e1>,<e2>,... (an array's elements, no letters),
# v (void).

SPELLINGS = {
    "int": ("int", "signed", "signed int"),
    "long": ("long", "long int", "signed long", "signed long int"),
    "long long": ("long long", "long long int", "signed long long", "signed long long int"),
    "short": ("short", "short int", "signed short", "signed short int"),
    "signed char": ("signed char",),
    "char": ("char",),
    "unsigned int": ("unsigned", "unsigned int"),
    "unsigned long": ("unsigned long", "unsigned long int"),
    "unsigned long long": ("unsigned long long", "unsigned long long int"),
    "unsigned short": ("unsigned short", "unsigned short int"),
    "unsigned char": ("unsigned char",),
    "size_t": ("size_t",),
    "bool": ("bool", "_Bool"),
    "double": ("double",),
    "float": ("float",),
}
CANONICAL = {
    tuple(sorted(spelling.split())): name
    for name, spellings in SPELLINGS.items()
    for spelling in spellings
}
CHAR_SIGNED = os.uname().machine not in ("aarch64", "arm64")
# canonical type: (token letter, bits, spelling in generated C)
SCALARS = {
    "int": ("i", 32, "int"),
    "long": ("i", 64, "long"),
    "long long": ("i", 64, "long long"),
    "short": ("i", 16, "short"),
    "signed char": ("i", 8, "signed char"),
    "char": ("i" if CHAR_SIGNED else "u", 8, "char"),
    "unsigned int": ("u", 32, "unsigned int"),
    "unsigned long": ("u", 64, "unsigned long"),
    "unsigned long long": ("u", 64, "unsigned long long"),
    "unsigned short": ("u", 16, "unsigned short"),
    "unsigned char": ("u", 8, "unsigned char"),
    "size_t": ("u", 64, "__SIZE_TYPE__"),
    "bool": ("b", 1, "_Bool"),
    "double": ("d", 64, "double"),
    "float": ("d", 32, "float"),
}
TYPE_WORDS = {
    "const",
    "signed",
    "unsigned",
    "int",
    "long",
    "short",
    "char",
    "double",
    "float",
    "bool",
    "_Bool",
    "size_t",
    "void",
}
C_KEYWORDS = (
    TYPE_WORDS
    | C_STATEMENT_WORDS
    | {
        "auto",
        "break",
        "continue",
        "default",
        "extern",
        "goto",
        "inline",
        "register",
        "restrict",
        "sizeof",
        "static",
        "struct",
        "typedef",
        "union",
        "volatile",
        "enum",
    }
)
PROTOTYPE_TOKEN = re.compile(r"\s*([A-Za-z_]\w*|[()*,\[\]])")
MAX_PROTOTYPE = 400
MAX_PARAMETERS = 16


class PrototypeError(ValueError):
    """A function whose signature a test cannot call; the message says why."""


class Parameter:
    """``kind``: "scalar", "string" (const char *), "text" (char *, copied back) or
    "array" (pointer to ``ctype`` elements, its length the next parameter)."""

    def __init__(self, kind, ctype=None, const=False):
        self.kind, self.ctype, self.const = kind, ctype, const

    @property
    def copied_back(self) -> bool:
        return self.kind == "text" or (self.kind == "array" and not self.const)

    def c(self, name: str) -> str:
        if self.kind == "scalar":
            return f"{SCALARS[self.ctype][2]} {name}"
        if self.kind == "string":
            return f"const char *{name}"
        if self.kind == "text":
            return f"char *{name}"
        return f"{'const ' if self.const else ''}{SCALARS[self.ctype][2]} *{name}"


class Signature:
    """A validated prototype: ``name``, ``returns`` ("void", a scalar's canonical name,
    or "string") and its parameters."""

    def __init__(self, name, returns, params):
        self.name, self.returns, self.params = name, returns, params

    def c(self) -> str:
        if self.returns == "void":
            result = "void"
        elif self.returns == "string":
            result = "char *"
        else:
            result = SCALARS[self.returns][2]
        names = ", ".join(p.c(f"a{i}") for i, p in enumerate(self.params)) or "void"
        return f"{result} {self.name}({names})"


def _type_of(words: list[str], stars: int, where: str):
    """(kind, canonical type, const) of declaration specifiers and pointer stars."""
    const = "const" in words
    core = [w for w in words if w not in ("const",)]
    if core == ["void"] and stars == 0:
        return "void", None, False
    canonical = CANONICAL.get(tuple(sorted(core)))
    if canonical is None:
        raise PrototypeError(f"{where}: the type '{' '.join(words)}' is not supported")
    if stars == 0:
        return "scalar", canonical, const
    if stars > 1:
        raise PrototypeError(f"{where}: pointers to pointers are not supported")
    if canonical == "char":
        return ("string" if const else "text"), canonical, const
    return "pointer", canonical, const


def parse_prototype(header: str) -> Signature:
    """The signature of a function definition's header (``int sum(const int *xs, int
    n)``), every token checked against what a stub can carry; PrototypeError if not."""
    if len(header) > MAX_PROTOTYPE:
        raise PrototypeError("the prototype is too long")
    tokens, position = [], 0
    while position < len(header):
        m = PROTOTYPE_TOKEN.match(header, position)
        if not m:
            if header[position:].strip():
                raise PrototypeError(
                    f"unexpected text in the prototype: {header[position:][:20]!r}"
                )
            break
        tokens.append(m.group(1))
        position = m.end()
    if "(" not in tokens or tokens[-1] != ")" or tokens.count("(") != 1:
        raise PrototypeError("a function's prototype has one parameter list")
    opening = tokens.index("(")
    head, params = tokens[:opening], tokens[opening + 1 : -1]
    if len(head) < 2 or not IDENTIFIER.fullmatch(head[-1]) or head[-1] in C_KEYWORDS:
        raise PrototypeError("the function has no name")
    name = head[-1]
    if name.startswith("_") or len(name) > 63:
        raise PrototypeError(f"{name}: names starting with '_' are reserved")
    specifiers = head[:-1]
    if "static" in specifiers or "inline" in specifiers:
        raise PrototypeError(f"{name} is static or inline: a test cannot call it")
    stars = specifiers.count("*")
    words = [t for t in specifiers if t != "*"]
    if any(t not in TYPE_WORDS for t in words) or (stars and specifiers[-stars:] != ["*"] * stars):
        raise PrototypeError(f"{name}: its return type is not supported")
    kind, ctype, _const = _type_of(words, stars, f"{name}'s return type")
    if kind == "void":
        returns = "void"
    elif kind in ("string", "text"):
        returns = "string"
    elif kind == "scalar":
        returns = ctype
    else:
        raise PrototypeError(f"{name}: returning a pointer other than a string is not supported")
    groups, current = [], []
    for token in params:
        if token == ",":
            groups.append(current)
            current = []
        else:
            current.append(token)
    groups.append(current)
    if groups == [["void"]] or groups == [[]]:
        groups = []
    if len(groups) > MAX_PARAMETERS:
        raise PrototypeError(f"{name}: too many parameters")
    parsed = []
    for index, group in enumerate(groups):
        where = f"{name}'s parameter {index + 1}"
        if group[-2:] == ["[", "]"]:  # int xs[] is int *xs
            group = group[:-2]
            if not group or not IDENTIFIER.fullmatch(group[-1]) or group[-1] in C_KEYWORDS:
                raise PrototypeError(f"{where}: an array parameter needs a name")
            group = [*group[:-1], "*", group[-1]]
        if group and IDENTIFIER.fullmatch(group[-1]) and group[-1] not in TYPE_WORDS:
            group = group[:-1]  # the parameter's name
        stars = group.count("*")
        words = [t for t in group if t != "*"]
        if not words or any(t not in TYPE_WORDS for t in words):
            raise PrototypeError(f"{where}: the type '{' '.join(group)}' is not supported")
        if stars and group[-stars:] != ["*"] * stars:
            raise PrototypeError(f"{where}: only 'T *name' pointers are supported")
        kind, ctype, const = _type_of(words, stars, where)
        if kind == "void":
            raise PrototypeError(f"{where}: void is not a parameter type")
        parsed.append(Parameter(kind, ctype, const))
    for index, param in enumerate(parsed):
        if param.kind == "pointer":
            following = parsed[index + 1] if index + 1 < len(parsed) else None
            if (
                following is None
                or following.kind != "scalar"
                or SCALARS[following.ctype][0] not in "iu"
                or following.ctype in ("char", "signed char", "unsigned char")
            ):
                raise PrototypeError(
                    f"{name}'s parameter {index + 1}: a pointer must be followed by its "
                    "length (an integer parameter)"
                )
            param.kind = "array"
    return Signature(name, returns, parsed)


HEX_FLOAT = re.compile(r"-?(0x[0-9a-f]+(\.[0-9a-f]*)?p[+-]?\d+|inf|nan)")
MAX_TOKEN = 1 << 20


def decode_scalar(text: str, ctype: str):
    """A scalar's value from its token text (without the letter); ValueError if not."""
    letter, bits, _spelling = SCALARS[ctype]
    if letter == "d":
        if not HEX_FLOAT.fullmatch(text):
            raise ValueError(f"not a {ctype}")
        return float.fromhex(text.lstrip("-")) * (-1.0 if text.startswith("-") else 1.0)
    if not re.fullmatch(r"-?\d{1,20}", text):
        raise ValueError(f"not a {ctype}")
    value = int(text)
    if letter == "b":
        low, high = 0, 1
    elif letter == "i":
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range for {ctype}")
    return value


def encode_scalar(value, ctype: str) -> str:
    letter = SCALARS[ctype][0]
    if letter == "d":
        return float(value).hex()
    return str(int(value))


def scalar_letter(ctype: str) -> str:
    letter = SCALARS[ctype][0]
    return "i" if letter == "b" else letter


def decode_token(token: str, param: Parameter | None, ctype=None, count=None):
    """The value a token carries for ``param`` (or a return type ``ctype``): a number,
    bytes (strings; None for NULL) or a list (arrays, of ``count`` elements)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or not token:
        raise ValueError("not a token")
    kind = param.kind if param is not None else ("string" if ctype == "string" else "scalar")
    ctype = param.ctype if param is not None else ctype
    if kind == "scalar":
        if token[0] != scalar_letter(ctype):
            raise ValueError(f"not a {ctype}")
        return decode_scalar(token[1:], ctype)
    if kind in ("string", "text"):
        if token == "n":
            return None
        if token[0] != "s" or not re.fullmatch(r"([0-9a-f]{2})*", token[1:]):
            raise ValueError("not a string")
        data = bytes.fromhex(token[1:])
        if b"\0" in data:
            raise ValueError("a string with a NUL byte")
        return data
    if token[0] != "a":
        raise ValueError("not an array")
    elements = token[1:].split(",") if len(token) > 1 else []
    if count is not None and len(elements) != count:
        raise ValueError(f"an array of {len(elements)} elements instead of {count}")
    return [decode_scalar(element, ctype) for element in elements]


def encode_token(value, param: Parameter | None, ctype=None) -> str:
    kind = param.kind if param is not None else ("string" if ctype == "string" else "scalar")
    ctype = param.ctype if param is not None else ctype
    if kind == "scalar":
        return scalar_letter(ctype) + encode_scalar(value, ctype)
    if kind in ("string", "text"):
        return "n" if value is None else "s" + bytes(value).hex()
    return "a" + ",".join(encode_scalar(v, ctype) for v in value)


# The C side of the tokens, in the programs that call (test programs) and answer (the
# learner's function harness): a growing output line, and a cursor over an input line.
CODEC_C = r"""
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char *ch_out; static size_t ch_len, ch_cap;
void __ch_reset(void) { ch_len = 0; if (ch_out) ch_out[0] = 0; }
void __ch_put(const char *s) {
    size_t n = strlen(s);
    if (ch_len + n + 1 > ch_cap) {
        ch_cap = (ch_len + n + 1) * 2;
        ch_out = realloc(ch_out, ch_cap);
        if (!ch_out) _exit(211);
    }
    memcpy(ch_out + ch_len, s, n + 1);
    ch_len += n;
}
void __ch_put_i(long long v) { char b[32]; snprintf(b, sizeof b, "%lld", v); __ch_put(b); }
void __ch_put_u(unsigned long long v) { char b[32]; snprintf(b, sizeof b, "%llu", v); __ch_put(b); }
void __ch_put_d(double v) { char b[64]; snprintf(b, sizeof b, "%a", v); __ch_put(b); }
void __ch_arg_i(long long v) { __ch_put(" i"); __ch_put_i(v); }
void __ch_arg_u(unsigned long long v) { __ch_put(" u"); __ch_put_u(v); }
void __ch_arg_d(double v) { __ch_put(" d"); __ch_put_d(v); }
void __ch_arg_s(const char *s) {
    static const char digits[] = "0123456789abcdef";
    char pair[3] = {0, 0, 0};
    if (!s) { __ch_put(" n"); return; }
    __ch_put(" s");
    for (; *s; s++) {
        pair[0] = digits[(unsigned char)*s >> 4]; pair[1] = digits[(unsigned char)*s & 15];
        __ch_put(pair);
    }
}
void __ch_arg_array(void) { __ch_put(" a"); }
void __ch_elem_i(long long index, long long v) { if (index) __ch_put(","); __ch_put_i(v); }
void __ch_elem_u(long long index, unsigned long long v) { if (index) __ch_put(","); __ch_put_u(v); }
void __ch_elem_d(long long index, double v) { if (index) __ch_put(","); __ch_put_d(v); }
int __ch_write_line(int fd) {
    size_t done = 0;
    __ch_put("\n");
    while (done < ch_len) {
        ssize_t n = write(fd, ch_out + done, ch_len - done);
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}
static char *ch_cursor, *ch_elements;
void __ch_read(char *line) { ch_cursor = line; }
char *__ch_token(void) {
    char *start;
    while (*ch_cursor == ' ') ch_cursor++;
    start = ch_cursor;
    while (*ch_cursor && *ch_cursor != ' ' && *ch_cursor != '\n') ch_cursor++;
    if (*ch_cursor) *ch_cursor++ = 0;
    return start;
}
long long __ch_next_i(void) { return strtoll(__ch_token() + 1, 0, 10); }
unsigned long long __ch_next_u(void) { return strtoull(__ch_token() + 1, 0, 10); }
double __ch_next_d(void) { return strtod(__ch_token() + 1, 0); }
static int ch_hex(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }
char *__ch_next_s(void) {
    char *t = __ch_token(), *s;
    size_t n, i;
    if (*t != 's') return NULL;
    n = strlen(t + 1) / 2;
    s = malloc(n + 1);
    if (!s) _exit(211);
    for (i = 0; i < n; i++) s[i] = (char)(ch_hex(t[1 + 2 * i]) * 16 + ch_hex(t[2 + 2 * i]));
    s[n] = 0;
    return s;
}
long long __ch_next_array(void) {
    char *t = __ch_token(), *p;
    long long count = 0;
    ch_elements = t + 1;
    if (!*ch_elements) return 0;
    for (count = 1, p = ch_elements; *p; p++) if (*p == ',') count++;
    return count;
}
static void ch_after_element(char *end) { ch_elements = *end == ',' ? end + 1 : end; }
long long __ch_element_i(void) { char *e; long long v = strtoll(ch_elements, &e, 10); ch_after_element(e); return v; }
unsigned long long __ch_element_u(void) { char *e; unsigned long long v = strtoull(ch_elements, &e, 10); ch_after_element(e); return v; }
double __ch_element_d(void) { char *e; double v = strtod(ch_elements, &e); ch_after_element(e); return v; }
"""
CODEC_DECLARATIONS = r"""
void __ch_reset(void); void __ch_put(const char *);
void __ch_arg_i(long long); void __ch_arg_u(unsigned long long); void __ch_arg_d(double);
void __ch_arg_s(const char *); void __ch_arg_array(void);
void __ch_elem_i(long long, long long); void __ch_elem_u(long long, unsigned long long);
void __ch_elem_d(long long, double); int __ch_write_line(int); void __ch_read(char *);
char *__ch_token(void); long long __ch_next_i(void); unsigned long long __ch_next_u(void);
double __ch_next_d(void); char *__ch_next_s(void); long long __ch_next_array(void);
long long __ch_element_i(void); unsigned long long __ch_element_u(void);
double __ch_element_d(void);
"""
