"""A toy trusted driver (Python source as a 'foreign' language), for the seam's tests."""

import builtins
import json
import os
import sys

messages = os.fdopen(3, "r", encoding="utf-8")
replies = os.fdopen(4, "w", encoding="utf-8")


class Lost(BaseException):
    pass


def send(document):
    sys.stdout.flush()
    replies.write(json.dumps(document) + "\n")
    replies.flush()


def ask(question):
    send({"ask": question})
    answer = json.loads(messages.readline())
    if "lost" in answer:
        raise Lost(answer["lost"])
    return answer["reply"]


class Names(dict):
    def __missing__(self, name):
        if hasattr(builtins, name):
            raise KeyError(name)
        answer = ask({"get": name})
        if "function" in answer:

            def call(*args, _name=name):
                result = ask({"call": _name, "args": list(args)})
                if "raise" in result:
                    raise RuntimeError(result["raise"])
                return result["value"]

            return call
        if "value" in answer:
            return answer["value"]
        raise KeyError(name)


namespace = Names(__name__="tests")
for line in messages:
    message = json.loads(line)
    if message["op"] == "setup":
        send({"done": {"status": "ok"}})
        continue
    outcome = {"status": "ok"}
    for segment in message["segments"]:
        try:
            exec(compile(segment["source"], "<test>", "exec"), namespace)
        except Lost:
            outcome = {
                "status": "error",
                "ename": "LearnerLost",
                "evalue": "",
                "traceback": [],
                "hidden": segment["hidden"],
            }
            break
        except Exception as e:
            outcome = {
                "status": "error",
                "ename": type(e).__name__,
                "evalue": str(e),
                "traceback": [f"{type(e).__name__}: {e}"],
                "hidden": segment["hidden"],
            }
            break
    send({"done": outcome})
