"""A toy learner driver (Python source as a 'foreign' language), for the seam's tests."""

import json
import os
import sys
import traceback

messages = os.fdopen(3, "r", encoding="utf-8")
replies = os.fdopen(4, "w", encoding="utf-8")
namespace = {"__name__": "__main__"}


def reply(document):
    sys.stdout.flush()
    sys.stderr.flush()
    replies.write(json.dumps(document) + "\n")
    replies.flush()


for line in messages:
    message = json.loads(line)
    if message.get("op") == "run":
        try:
            exec(compile(message["source"], "<cell>", "exec"), namespace)
            reply({"status": "ok"})
        except Exception as e:
            reply(
                {
                    "status": "error",
                    "ename": type(e).__name__,
                    "evalue": str(e),
                    "traceback": traceback.format_exception_only(type(e), e),
                }
            )
    elif message.get("op") == "ask":
        ask = message["msg"]
        try:
            if "get" in ask:
                value = namespace.get(ask["get"], None)
                if callable(value):
                    reply({"reply": {"function": ask["get"]}})
                elif ask["get"] in namespace:
                    reply({"reply": {"value": value}})
                else:
                    reply({"reply": {"missing": True}})
            else:
                result = namespace[ask["call"]](*ask["args"])
                reply({"reply": {"value": result}})
        except Exception as e:
            reply({"reply": {"raise": type(e).__name__}})
