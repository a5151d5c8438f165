# coursehub's R learner driver: runs the learner's cells, answers the trusted driver.
#
# Untrusted by design: once the first learner cell ran, the learner's code may have
# changed anything in this process (this file's functions included), so nothing it
# says is believed by the trusted side except as plain data (see trusted.R's decoder).
# It never sees a test cell: the trusted driver only asks it for names, values and
# calls of the learner's functions.
#
# Protocol (one JSON object a line): fd 3 in, fd 4 out.
#   in  {"op": "run", "source": "..."}  out {"status": "ok"} | {"status": "error", ...}
#   in  {"op": "ask", "msg": M}          out {"reply": R}
#     M = {"names": true}                R = {"names": ["f", "x", ...]}
#     M = {"get": "f"}                   R = {"value": V} | {"missing": true} | {"raise": E}
#     M = {"call": ref, "args": [V...], "argnames": ["", "n", ...]}
#                                        R = {"value": V} | {"raise": E}
#   V: the value encoding shared with trusted.R (documented there); E: {"ename", "evalue"}.

local({
  MAX_DEPTH <- 64L
  MAX_ELEMENTS <- 1000000L
  MAX_NAMES <- 10000L
  MAX_TEXT <- 4000L

  open_fd <- function(fd, mode) {
    for (path in c(sprintf("/dev/fd/%d", fd), sprintf("/proc/self/fd/%d", fd))) {
      # only ever a pipe: never truncate or write a file that happens to be at this fd
      if (!startsWith(Sys.readlink(path), "pipe:")) next
      # raw: a pipe, read as it comes (no seeking, no re-encoding)
      con <- tryCatch(file(path, open = mode, blocking = TRUE, raw = TRUE),
                      error = function(e) NULL)
      if (!is.null(con)) return(con)
    }
    stop("fd ", fd, " is not the driver's pipe")
  }
  messages_in <- open_fd(3L, "r")
  messages_out <- open_fd(4L, "w")

  send <- function(document) {
    flush(stdout())
    flush(stderr())
    line <- jsonlite::toJSON(document, auto_unbox = TRUE, null = "null", na = "null",
                             digits = NA)
    writeLines(enc2utf8(as.character(line)), messages_out, useBytes = TRUE)
    flush(messages_out)
  }

  text_of <- function(x, limit = MAX_TEXT) {
    x <- paste(as.character(x), collapse = "\n")
    if (is.na(nchar(x, allowNA = TRUE)) || nchar(x, allowNA = TRUE) > limit) {
      x <- substr(x, 1L, limit)
    }
    x
  }

  # -- values as plain data ------------------------------------------------------------

  functions <- new.env(parent = emptyenv())  # ref -> the learner's function
  by_name <- new.env(parent = emptyenv())     # name -> list(fn, ref): one ref per value
  state <- new.env(parent = emptyenv())
  state$last_ref <- 0L
  state$elements <- 0L

  remember <- function(fn, name = NULL) {
    if (!is.null(name)) {
      known <- by_name[[name]]
      if (!is.null(known) && identical(known[[1L]], fn)) return(known[[2L]])
    }
    state$last_ref <- state$last_ref + 1L
    ref <- as.character(state$last_ref)
    assign(ref, fn, envir = functions)
    if (!is.null(name)) assign(name, list(fn, ref), envir = by_name)
    ref
  }

  hex <- function(x) {
    out <- sprintf("%a", x)
    out[is.na(x) & !is.nan(x)] <- "NA"
    out[is.nan(x)] <- "NaN"
    out
  }

  allowed_class <- function(cls) {
    if ("data.frame" %in% cls) return("data.frame")
    if ("factor" %in% cls) return(if ("ordered" %in% cls) c("ordered", "factor") else "factor")
    if ("Date" %in% cls) return("Date")
    NULL
  }

  encode <- function(x, depth = 0L, name = NULL) {
    if (depth > MAX_DEPTH) stop("the value is nested more than ", MAX_DEPTH, " levels deep")
    if (isS4(x)) stop("an S4 object cannot be sent to the tests")
    type <- typeof(x)
    if (type %in% c("closure", "builtin", "special")) {
      return(list(t = "fn", ref = remember(x, name)))
    }
    state$elements <- state$elements + max(length(x), 1L)
    if (state$elements > MAX_ELEMENTS) {
      stop("the value has more than ", MAX_ELEMENTS, " elements")
    }
    if (!type %in% c("NULL", "logical", "integer", "double", "complex", "character", "list")) {
      stop("a value of type '", type, "' (an environment, a reference object, a ",
           "formula...) cannot be sent to the tests")
    }
    plain <- if (type == "list") NULL else as.vector(unclass(x))
    out <- switch(type,
      "NULL" = list(t = "null"),
      logical = list(t = "lgl", v = I(plain)),
      integer = list(t = "int", v = I(plain)),
      double = list(t = "dbl", v = I(hex(plain))),
      complex = list(t = "cpl", re = I(hex(Re(plain))), im = I(hex(Im(plain)))),
      character = list(t = "chr", v = I(enc2utf8(plain))),
      list = list(t = "list", v = I(lapply(unname(as.list(unclass(x))), encode,
                                           depth = depth + 1L)))
    )
    attrs <- list()
    nm <- attr(x, "names", exact = TRUE)
    if (!is.null(nm)) attrs$names <- encode(as.character(nm), depth + 1L)
    dm <- attr(x, "dim", exact = TRUE)
    if (!is.null(dm)) attrs$dim <- encode(as.integer(dm), depth + 1L)
    dn <- attr(x, "dimnames", exact = TRUE)
    if (!is.null(dn)) attrs$dimnames <- encode(dn, depth + 1L)
    cls <- allowed_class(attr(x, "class", exact = TRUE))
    if (!is.null(cls)) {
      attrs$class <- I(cls)
      lv <- attr(x, "levels", exact = TRUE)
      if (!is.null(lv)) attrs$levels <- encode(as.character(lv), depth + 1L)
      if (identical(cls, "data.frame")) {
        attrs$row.names <- encode(.row_names_info(x, type = 0L), depth + 1L)
      }
    }
    if (length(attrs)) out$a <- attrs
    out
  }

  encoded <- function(x, name = NULL) {
    state$elements <- 0L
    list(value = encode(x, 0L, name))
  }

  # -- values from the tests (plain data, never code) ----------------------------------

  from_hex <- function(v) {
    v <- unlist(lapply(v, function(e) if (is.character(e) && length(e) == 1L) e else NA))
    suppressWarnings(as.numeric(if (is.null(v)) character() else v))
  }

  nulls <- function(vals, na) {
    if (!length(vals)) return(NULL)
    vals[vapply(vals, is.null, NA)] <- list(na)
    unlist(vals)
  }

  decode <- function(v, depth = 0L) {
    if (!is.list(v) || depth > MAX_DEPTH) stop("malformed value")
    type <- as.character(v[["t"]])[1L]
    vals <- v[["v"]]
    if (identical(type, "fn")) {
      fn <- functions[[as.character(v[["ref"]])[1L]]]
      if (is.null(fn)) stop("unknown function")
      return(fn)
    }
    x <- switch(type,
      null = NULL,
      lgl = as.logical(nulls(vals, NA)),
      int = as.integer(nulls(vals, NA_integer_)),
      dbl = from_hex(vals),
      cpl = complex(real = from_hex(v[["re"]]), imaginary = from_hex(v[["im"]])),
      chr = as.character(nulls(vals, NA_character_)),
      list = lapply(vals, decode, depth = depth + 1L),
      stop("malformed value")
    )
    a <- v[["a"]]
    if (is.list(a) && !is.null(x)) {
      for (key in c("dim", "dimnames", "names", "levels", "row.names")) {
        if (!is.null(a[[key]])) attr(x, key) <- decode(a[[key]], depth + 1L)
      }
      if (!is.null(a[["class"]])) attr(x, "class") <- allowed_class(unlist(a[["class"]]))
    }
    x
  }

  # -- answering -----------------------------------------------------------------------

  failure <- function(e) {
    list(ename = text_of(class(e)[1L], 200L), evalue = text_of(conditionMessage(e)))
  }

  # warnings are printed when they happen (a kernel shows them under the cell), at
  # most 50 a cell or call, as R keeps at most 50: a loop of warnings is no output flood
  MAX_WARNINGS <- 50L
  evaluate_visibly <- function(thunk, print_visible = TRUE) {
    warnings <- 0L
    withCallingHandlers(
      {
        result <- withVisible(thunk())
        if (print_visible && result$visible) print(result$value)
        result$value
      },
      warning = function(w) {
        warnings <<- warnings + 1L
        if (warnings <= MAX_WARNINGS) message("Warning message:\n", conditionMessage(w))
        if (warnings == MAX_WARNINGS) message("(further warnings not shown)")
        invokeRestart("muffleWarning")
      }
    )
  }

  answer <- function(msg) {
    if (isTRUE(msg[["names"]])) {
      names <- ls(globalenv(), all.names = FALSE, sorted = FALSE)
      return(list(names = I(names[seq_len(min(length(names), MAX_NAMES))])))
    }
    if (!is.null(msg[["get"]])) {
      name <- as.character(msg[["get"]])[1L]
      if (!exists(name, envir = globalenv(), inherits = FALSE)) return(list(missing = TRUE))
      return(tryCatch(encoded(get(name, envir = globalenv(), inherits = FALSE), name),
                      error = function(e) list(raise = failure(e))))
    }
    if (!is.null(msg[["call"]])) {
      fn <- functions[[as.character(msg[["call"]])[1L]]]
      if (is.null(fn)) return(list(raise = list(ename = "error", evalue = "unknown function")))
      return(tryCatch({
        args <- lapply(msg[["args"]], decode)
        argnames <- as.character(unlist(msg[["argnames"]]))
        if (length(argnames) == length(args) && any(nzchar(argnames))) names(args) <- argnames
        encoded(evaluate_visibly(function() do.call(fn, args), print_visible = FALSE))
      }, error = function(e) list(raise = failure(e))))
    }
    list(raise = list(ename = "error", evalue = "unknown request"))
  }

  run <- function(source) {
    tryCatch(
      {
        exprs <- parse(text = source, keep.source = TRUE, srcfile = "cell")
        for (expr in exprs) {
          local_expr <- expr
          evaluate_visibly(function() eval(local_expr, globalenv()))
        }
        list(status = "ok")
      },
      error = function(e) {
        call <- conditionCall(e)
        head <- if (is.null(call)) "Error" else
          paste0("Error in ", paste(deparse(call, nlines = 1L), collapse = ""))
        message <- text_of(conditionMessage(e))
        list(status = "error", ename = text_of(class(e)[1L], 200L), evalue = message,
             traceback = I(strsplit(paste0(head, ": ", message), "\n")[[1L]]))
      }
    )
  }

  repeat {
    line <- readLines(messages_in, n = 1L, warn = FALSE, encoding = "UTF-8")
    if (length(line) == 0L) break
    message_in <- jsonlite::fromJSON(line, simplifyVector = FALSE)
    if (identical(message_in[["op"]], "run")) {
      send(run(as.character(message_in[["source"]])))
    } else if (identical(message_in[["op"]], "ask")) {
      send(list(reply = answer(message_in[["msg"]])))
    } else {
      send(list(status = "error", ename = "error", evalue = "unknown op",
                traceback = I(character())))
    }
  }
}, envir = new.env(parent = baseenv()))
quit(save = "no", status = 0)
