# coursehub's R trusted driver: runs the test cells; never runs a line of learner code.
#
# Test cells run in one persistent test environment whose parent holds the learner's
# names as active bindings: each use asks the learner driver (through the two Python
# processes) for the value, which comes back as plain data and is rebuilt here with base
# constructors only. What a test sees of a learner value:
#
#   logical/integer/double/complex/character vectors, NULL, lists: the same data, with
#     names, dim and dimnames (NA, NaN, Inf and -0 kept; doubles travel as hex, exactly)
#   factors, ordered factors, data frames, Dates: rebuilt with that class (and levels,
#     row names); every other class attribute is dropped, so no method the learner
#     wrote (an S3 `==.myclass`, `print.myclass`, `all.equal.myclass`) ever runs here
#   functions: a trusted proxy that sends the arguments (as data) to the learner's
#     function and decodes its result the same way; a learner error comes back as a
#     simpleError with the learner's message
#   environments (R5/R6 objects included), S4 objects, external pointers, language
#     objects: refused (an error when the test reads the name)
#
# Names of base R and of attached packages (and any S3-method-like name for them, such
# as `all.equal.numeric`) always mean the trusted ones: a learner's `stopifnot`, `==`,
# `identical` or `expect_equal` is never seen by a test. A test cannot pass its own
# functions to the learner's code (no callbacks); it can pass the learner's functions.
#
# Protocol (one JSON object a line): fd 3 in, fd 4 out.
#   in  {"op": "setup", "source": "library(...)"}          out {"done": {...}}
#   in  {"op": "test", "segments": [{"source", "hidden"}]} out {"done": {...}}
#       while it runs: out {"ask": M}  in {"reply": R} | {"lost": reason}
# Value encoding V: {"t": "null"|"lgl"|"int"|"dbl"|"cpl"|"chr"|"list"|"fn", "v": [...],
#   "re"/"im" (cpl), "ref" (fn), "a": {"names", "dim", "dimnames", "class", "levels",
#   "row.names"}}; doubles as C99 hex strings or "NA", "NaN", "Inf", "-Inf"; NA as null.

local({
  MAX_DEPTH <- 64L            # levels of lists in a value
  MAX_JSON_DEPTH <- 4L * MAX_DEPTH + 8L
  MAX_ELEMENTS <- 1000000L    # vector elements in one value, all levels together
  MAX_NAMES <- 10000L         # learner names made visible to the tests
  MAX_TEXT <- 4000L
  MAX_TRACE <- 50L
  # classes a method name can dispatch on for the values a test can hold
  DISPATCH_CLASSES <- c("default", "numeric", "double", "integer", "character", "logical",
    "complex", "list", "function", "matrix", "array", "NULL", "data.frame", "factor",
    "ordered", "Date", "name", "call", "environment", "raw", "formula", "table")
  KNOWN_ERRORS <- c("simpleError", "expectation_failure", "rlang_error")

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

  receive <- function() {
    line <- readLines(messages_in, n = 1L, warn = FALSE, encoding = "UTF-8")
    if (length(line) == 0L) quit(save = "no", status = 0L)
    # depth first, without recursion: a line of a million '[' must not reach the parser
    bytes <- charToRaw(gsub('"(\\\\.|[^"\\\\])*"', '""', line, perl = TRUE, useBytes = TRUE))
    opens <- bytes == as.raw(0x5b) | bytes == as.raw(0x7b)
    closes <- bytes == as.raw(0x5d) | bytes == as.raw(0x7d)
    if (length(bytes) && max(cumsum(opens - closes)) > MAX_JSON_DEPTH) {
      return(list(bad = "the message is nested too deeply"))
    }
    tryCatch(jsonlite::fromJSON(line, simplifyVector = FALSE),
             error = function(e) list(bad = "the message is not JSON"))
  }

  first <- function(x, n) x[seq_len(min(length(x), n))]

  text_of <- function(x, limit = MAX_TEXT) {
    x <- paste(as.character(x), collapse = "\n")
    if (is.na(nchar(x, allowNA = TRUE)) || nchar(x, allowNA = TRUE) > limit) {
      x <- substr(x, 1L, limit)
    }
    x
  }

  # -- the learner, reached by asking --------------------------------------------------

  lost_reason <- NULL  # set when the learner is gone during the current test cell

  learner_lost <- function(reason) {
    # not an "error": a test's tryCatch(error = ...) or expect_error() must not turn the
    # learner's process ending into a pass
    structure(class = c("coursehub_learner_lost", "condition"),
              list(message = paste0("the learner's process ended (", reason, ")"),
                   call = NULL, reason = reason))
  }

  ask <- function(msg) {
    if (!is.null(lost_reason)) stop(learner_lost(lost_reason))
    send(list(ask = msg))
    answer <- receive()
    if (!is.null(answer$lost)) {
      lost_reason <<- text_of(answer$lost, 40L)
      stop(learner_lost(lost_reason))
    }
    if (!is.list(answer) || !is.list(answer$reply)) {
      lost_reason <<- "learner_exit"
      stop(learner_lost(lost_reason))
    }
    answer$reply
  }

  from_learner <- function(reply, what) {
    raised <- reply[["raise", exact = TRUE]]
    if (!is.null(raised)) {
      message <- if (is.list(raised)) raised[["evalue", exact = TRUE]] else NULL
      message <- if (is.character(message) && length(message) == 1L) text_of(message) else ""
      stop(simpleError(paste0("in the learner's code: ", message), call = NULL))
    }
    value <- reply[["value", exact = TRUE]]
    if (is.null(value)) stop(simpleError(paste("the learner's", what, "sent no value"), NULL))
    budget$left <- MAX_ELEMENTS
    tryCatch(decode(value, 0L), coursehub_bad_value = function(e) {
      stop(simpleError(paste0("the learner's ", what, " cannot be read by the tests: ",
                              conditionMessage(e)), call = NULL))
    })
  }

  # -- decoding: plain data only ---------------------------------------------------------

  budget <- new.env(parent = emptyenv())
  bad <- function(...) {
    stop(structure(class = c("coursehub_bad_value", "error", "condition"),
                   list(message = paste0(...), call = NULL)))
  }
  HEX <- "^(-?0x[0-9a-f](\\.[0-9a-f]+)?p[+-][0-9]+|NA|NaN|Inf|-Inf)$"

  scalars <- function(vals, test, na) {
    if (!is.list(vals)) bad("malformed vector")
    budget$left <- budget$left - length(vals)
    if (budget$left < 0) bad("more than ", MAX_ELEMENTS, " elements")
    if (!length(vals)) return(vals)
    nulls <- vapply(vals, is.null, NA)
    ok <- vapply(vals, function(e) is.null(e) || (length(e) == 1L && test(e)), NA)
    if (!all(ok)) bad("malformed vector")
    vals[nulls] <- list(na)
    vals
  }

  doubles <- function(vals) {
    vals <- scalars(vals, is.character, NA_character_)
    if (!length(vals)) return(double())
    vals <- unlist(vals)
    vals[is.na(vals)] <- "NA"
    if (!all(grepl(HEX, vals, perl = TRUE))) bad("malformed number")
    suppressWarnings(as.numeric(vals))
  }

  class_of <- function(cls) {
    if (!is.list(cls) || !all(vapply(cls, is.character, NA))) bad("malformed class")
    cls <- unlist(cls)
    for (allowed in list("factor", c("ordered", "factor"), "data.frame", "Date")) {
      if (identical(cls, allowed)) return(allowed)
    }
    NULL  # any other class is dropped
  }

  decode <- function(v, depth) {
    if (depth > MAX_DEPTH) bad("nested more than ", MAX_DEPTH, " levels deep")
    if (!is.list(v)) bad("malformed value")
    type <- v[["t", exact = TRUE]]
    if (!is.character(type) || length(type) != 1L) bad("malformed value")
    vals <- v[["v", exact = TRUE]]
    x <- switch(type,
      null = NULL,
      lgl = as.logical(unlist(scalars(vals, is.logical, NA))),
      int = {
        vals <- scalars(vals, function(e) is.numeric(e) && !is.na(e) && e == round(e) &&
                          abs(e) <= .Machine$integer.max, NA_integer_)
        as.integer(unlist(vals))
      },
      dbl = doubles(vals),
      cpl = {
        re <- doubles(v[["re", exact = TRUE]])
        im <- doubles(v[["im", exact = TRUE]])
        if (length(re) != length(im)) bad("malformed complex vector")
        complex(real = re, imaginary = im)
      },
      chr = as.character(unlist(scalars(vals, is.character, NA_character_))),
      list = {
        if (!is.list(vals)) bad("malformed list")
        budget$left <- budget$left - length(vals)
        if (budget$left < 0) bad("more than ", MAX_ELEMENTS, " elements")
        lapply(vals, decode, depth = depth + 1L)
      },
      fn = {
        ref <- v[["ref", exact = TRUE]]
        if (!is.character(ref) || length(ref) != 1L || !grepl("^[0-9]{1,15}$", ref)) {
          bad("malformed function reference")
        }
        return(make_proxy(ref))
      },
      bad("unknown value type")
    )
    if (is.null(x) && type != "null") {
      x <- vector(c(lgl = "logical", int = "integer", dbl = "double", cpl = "complex",
                    chr = "character", list = "list")[[type]])
    }
    attrs <- v[["a", exact = TRUE]]
    if (!is.null(attrs)) x <- with_attributes(x, attrs, depth)
    x
  }

  with_attributes <- function(x, attrs, depth) {
    if (!is.list(attrs) || is.null(x)) bad("malformed attributes")
    part <- function(key, type) {
      a <- attrs[[key, exact = TRUE]]
      if (is.null(a)) return(NULL)
      value <- decode(a, depth + 1L)
      if (!type(value)) bad("malformed ", key)
      value
    }
    names <- part("names", is.character)
    dim <- part("dim", function(d) is.integer(d) && length(d) >= 1L && !anyNA(d) && all(d >= 0L))
    dimnames <- part("dimnames", function(d) is.list(d) &&
                       all(vapply(d, function(e) is.null(e) || is.character(e), NA)))
    cls <- if (is.null(attrs[["class", exact = TRUE]])) NULL else class_of(attrs[["class"]])
    tryCatch({
      if (!is.null(dim)) {
        if (prod(as.numeric(dim)) != length(x)) bad("malformed dim")
        dim(x) <- dim
        if (!is.null(dimnames)) dimnames(x) <- dimnames
      }
      if (!is.null(names)) {
        if (length(names) != length(x)) bad("malformed names")
        names(x) <- names
      }
    }, coursehub_bad_value = function(e) stop(e), error = function(e) bad("malformed attributes"))
    if (is.null(cls)) return(x)
    if ("factor" %in% cls) {
      levels <- part("levels", is.character)
      if (!is.integer(x) || is.null(levels) || !is.null(dim) ||
          any(x[!is.na(x)] < 1L | x[!is.na(x)] > length(levels))) {
        return(x)
      }
      attr(x, "levels") <- levels
      class(x) <- cls
    } else if (identical(cls, "Date")) {
      if (is.double(x) || is.integer(x)) class(x) <- cls
    } else if (identical(cls, "data.frame")) {
      rows <- part("row.names", function(r) is.integer(r) || is.character(r))
      columns_ok <- is.list(x) && !is.null(names) && is.null(dim) &&
        all(vapply(x, function(col) is.atomic(col) || is.list(col), NA))
      if (!columns_ok || is.null(rows)) return(x)
      n <- if (is.integer(rows) && length(rows) == 2L && is.na(rows[1L])) abs(rows[2L]) else
        length(rows)
      lengths_ok <- all(vapply(x, function(col) NROW(col) == n, NA))
      if (!lengths_ok || anyNA(n)) return(x)
      attr(x, "row.names") <- rows
      class(x) <- cls
    }
    x
  }

  # -- encoding the tests' arguments ------------------------------------------------------

  proxy_mark <- new.env(parent = emptyenv())

  hex <- function(x) {
    out <- sprintf("%a", x)
    out[is.na(x) & !is.nan(x)] <- "NA"
    out[is.nan(x)] <- "NaN"
    out
  }

  encode <- function(x, depth = 0L) {
    if (depth > MAX_DEPTH) stop("a value nested more than ", MAX_DEPTH, " levels deep")
    if (is.function(x)) {
      penv <- environment(x)
      if (is.environment(penv) && identical(penv$mark, proxy_mark)) {
        return(list(t = "fn", ref = penv$ref))
      }
      stop("a test cannot pass its own function to the learner's code")
    }
    if (isS4(x)) stop("a test cannot pass an S4 object to the learner's code")
    type <- typeof(x)
    out <- switch(type,
      "NULL" = list(t = "null"),
      logical = list(t = "lgl", v = I(as.vector(unclass(x)))),
      integer = list(t = "int", v = I(as.vector(unclass(x)))),
      double = list(t = "dbl", v = I(hex(as.vector(unclass(x))))),
      complex = list(t = "cpl", re = I(hex(Re(as.vector(unclass(x))))),
                     im = I(hex(Im(as.vector(unclass(x)))))),
      character = list(t = "chr", v = I(enc2utf8(as.vector(unclass(x))))),
      list = list(t = "list", v = I(lapply(unname(as.list(unclass(x))), encode,
                                           depth = depth + 1L))),
      stop("a test cannot pass a value of type '", type, "' to the learner's code")
    )
    a <- list()
    if (!is.null(names(x)) && !is.data.frame(x)) a$names <- encode(names(x), depth + 1L)
    if (is.data.frame(x)) a$names <- encode(names(x), depth + 1L)
    if (!is.null(attr(x, "dim"))) a$dim <- encode(as.integer(attr(x, "dim")), depth + 1L)
    if (!is.null(attr(x, "dimnames"))) a$dimnames <- encode(attr(x, "dimnames"), depth + 1L)
    cls <- attr(x, "class", exact = TRUE)
    if (is.factor(x)) {
      a$class <- I(if (is.ordered(x)) c("ordered", "factor") else "factor")
      a$levels <- encode(levels(x), depth + 1L)
    } else if (is.data.frame(x)) {
      a$class <- I("data.frame")
      a$row.names <- encode(.row_names_info(x, type = 0L), depth + 1L)
    } else if (inherits(x, "Date")) {
      a$class <- I("Date")
    }
    if (length(a)) out$a <- a
    out
  }

  # -- proxies of the learner's functions -------------------------------------------------

  call_learner <- function(ref, args) {
    encoded <- lapply(args, encode)
    argnames <- names(args)
    if (is.null(argnames)) argnames <- rep("", length(args))
    reply <- ask(list(call = ref, args = I(encoded), argnames = I(argnames)))
    from_learner(reply, "function")
  }

  driver_env <- environment()
  make_proxy <- function(ref) {
    holder <- new.env(parent = driver_env)
    holder$ref <- ref
    holder$mark <- proxy_mark
    proxy <- function(...) call_learner(ref, list(...))
    environment(proxy) <- holder
    proxy
  }

  # -- the learner's names, seen from the tests -------------------------------------------

  learner_names <- new.env(parent = globalenv())
  test_env <- new.env(parent = learner_names)

  dispatches <- function(name) {
    # `generic.class` for a trusted generic and a class a test value can have: an S3
    # method of the learner's would run in the test when the test calls the generic
    pieces <- strsplit(name, ".", fixed = TRUE)[[1L]]
    if (length(pieces) < 2L) return(FALSE)
    for (cut in seq_len(length(pieces) - 1L)) {
      generic <- paste(pieces[seq_len(cut)], collapse = ".")
      suffix <- paste(pieces[-seq_len(cut)], collapse = ".")
      if (suffix %in% DISPATCH_CLASSES && exists(generic, envir = globalenv(), mode = "function")) {
        return(TRUE)
      }
    }
    FALSE
  }

  # R's default packages: their names are the learner's to reuse (a data frame called
  # `df`, a function called `filter`), as in a kernel where the learner's global
  # environment comes first. base R's names, and those of packages a setup or test cell
  # attached (testthat's `expect_equal`...), always mean the trusted ones.
  SHAREABLE <- c(".GlobalEnv", "Autoloads", "package:stats", "package:graphics",
                 "package:grDevices", "package:utils", "package:datasets", "package:methods")

  trusted_name <- function(name) {
    if (exists(name, envir = baseenv(), inherits = FALSE)) return(TRUE)
    if (exists(name, envir = globalenv(), inherits = FALSE)) return(TRUE)
    attached <- search()
    for (pos in seq_along(attached)) {
      if (attached[pos] %in% SHAREABLE) next
      if (exists(name, envir = as.environment(pos), inherits = FALSE)) return(TRUE)
    }
    FALSE
  }

  visible <- function(name) {
    nzchar(name) && nchar(name) <= 200L && !startsWith(name, ".") &&
      !trusted_name(name) && !dispatches(name)
  }

  fetch <- function(name) {
    reply <- ask(list(get = name))
    if (isTRUE(reply[["missing", exact = TRUE]])) {
      stop(simpleError(paste0("object '", name, "' not found"), call = NULL))
    }
    from_learner(reply, paste0("value '", name, "'"))
  }

  refresh_names <- function() {
    rm(list = ls(learner_names, all.names = TRUE), envir = learner_names)
    reply <- tryCatch(ask(list(names = TRUE)), coursehub_learner_lost = function(e) NULL)
    names <- if (is.list(reply)) reply[["names", exact = TRUE]] else NULL
    if (!is.list(names)) return(invisible())
    names <- unlist(Filter(function(n) is.character(n) && length(n) == 1L && !is.na(n),
                           first(names, MAX_NAMES)))
    for (name in unique(names)) {
      if (!visible(name)) next
      local({
        bound <- name
        makeActiveBinding(bound, function(value) {
          if (!missing(value)) stop("a test cannot assign the learner's '", bound, "'")
          fetch(bound)
        }, learner_names)
      })
    }
  }

  # -- running test code ----------------------------------------------------------------

  error_name <- function(e) {
    cls <- class(e)
    known <- cls[cls %in% KNOWN_ERRORS]
    if (length(known)) known[1L] else "error"
  }

  defined_in_hidden <- function() {
    # is a function written in a hidden segment on the stack? (its message may hold
    # what the hidden test expects)
    for (frame in rev(seq_len(sys.nframe()))) {
      fn <- sys.function(frame)
      file <- attr(attr(fn, "srcref"), "srcfile")
      if (is.environment(file) && startsWith(as.character(file$filename)[1L], "<hidden")) {
        return(TRUE)
      }
    }
    FALSE
  }

  running <- new.env(parent = emptyenv())  # the test line being run, for the traceback

  run_segment <- function(source, hidden, number, first_line) {
    filename <- if (hidden) sprintf("<hidden %d>", number) else sprintf("<test %d>", number)
    running$line <- NULL
    exprs <- parse(text = source, keep.source = TRUE, srcfile = srcfilecopy(filename, source))
    refs <- attr(exprs, "srcref")
    for (i in seq_along(exprs)) {
      ref <- refs[[i]]
      running$line <- sprintf("test cell, line %d: %s", first_line + ref[1L] - 1L,
                              text_of(as.character(ref)[1L], 200L))
      result <- withVisible(eval(exprs[[i]], test_env))
      if (result$visible && !hidden) print(result$value)
    }
  }

  run_test <- function(segments) {
    lost_reason <<- NULL
    refresh_names()
    failure <- NULL
    first_line <- 1L
    for (number in seq_along(segments)) {
      segment <- segments[[number]]
      source <- text_of(segment[["source"]], 1000000L)
      hidden <- isTRUE(segment$hidden)
      in_hidden <- FALSE
      quiet <- NULL
      if (hidden) {
        # a hidden test's own output never leaves this process
        quiet <- file(nullfile(), open = "w")
        sink(quiet)
        sink(quiet, type = "message")
      }
      failure <- tryCatch(
        withCallingHandlers(
          {
            run_segment(source, hidden, number, first_line)
            NULL
          },
          error = function(e) in_hidden <<- defined_in_hidden(),
          warning = function(w) {
            message("Warning message:\n", conditionMessage(w))
            invokeRestart("muffleWarning")
          }
        ),
        coursehub_learner_lost = function(e) list(lost = e$reason, e = e),
        error = function(e) list(e = e)
      )
      if (hidden) {
        sink(type = "message")
        sink()
        close(quiet)
      }
      if (!is.null(failure)) {
        failure$hidden <- hidden || in_hidden
        failure$line <- running$line
        break
      }
      first_line <- first_line + length(strsplit(source, "\n", fixed = TRUE)[[1L]])
    }
    if (is.null(failure)) return(list(status = "ok"))
    outcome(failure)
  }

  outcome <- function(failure) {
    e <- failure$e
    if (!is.null(failure$lost)) {
      reason <- failure$lost
      return(list(status = "error", reason = reason,
        ename = if (reason == "time_limit") "CellTimeoutError" else "LearnerProcessEnded",
        evalue = conditionMessage(e), traceback = I(character()), hidden = failure$hidden))
    }
    if (failure$hidden) {
      return(list(status = "error", ename = error_name(e), evalue = "",
                  traceback = I(character()), hidden = TRUE))
    }
    # where the test failed (its line), not the message again: the feedback shows both
    call <- conditionCall(e)
    shown <- if (is.null(call)) "" else paste(deparse(call, nlines = 1L), collapse = "")
    trace <- c(failure$line,
               if (nzchar(shown) && !grepl("^(eval|withVisible)\\(", shown)) paste("in", shown))
    list(status = "error", ename = error_name(e), evalue = text_of(conditionMessage(e)),
         traceback = I(first(as.character(trace), MAX_TRACE)), hidden = FALSE)
  }

  run_setup <- function(source) {
    tryCatch({
      for (expr in parse(text = source, keep.source = FALSE)) eval(expr, globalenv())
      list(status = "ok")
    }, error = function(e) list(status = "error", ename = error_name(e),
                                evalue = text_of(conditionMessage(e)), traceback = I(character())))
  }

  handle <- function(message_in) {
    op <- message_in[["op", exact = TRUE]]
    if (identical(op, "test")) {
      segments <- message_in[["segments", exact = TRUE]]
      if (!is.list(segments)) segments <- list()
      send(list(done = run_test(segments)))
    } else if (identical(op, "setup")) {
      send(list(done = run_setup(text_of(message_in$source, 1000000L))))
    } else {
      send(list(done = list(status = "error", ename = "error", evalue = "unknown op",
                            traceback = I(character()), hidden = FALSE)))
    }
  }

  repeat {
    message_in <- receive()
    # whatever a test did, this driver answers (a broken driver would be a lost run)
    tryCatch(handle(message_in), error = function(e) {
      send(list(done = list(status = "error", ename = "error",
                            evalue = text_of(conditionMessage(e)),
                            traceback = I(character()), hidden = TRUE)))
    })
  }
}, envir = new.env(parent = baseenv()))
