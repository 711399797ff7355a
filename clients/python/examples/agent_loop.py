#!/usr/bin/env python3
"""A small agent loop with warren sandboxes as its tools.

The loop asks a model for the next action, carries it out in a sandbox
session through the warren client, and feeds the result back as the next
observation, until the model gives a final answer. The model here is a
scripted stand-in (a list of steps), so the example runs anywhere warrend
does, with no network; swap ScriptedModel for a call to a real model that
answers in the same shape ({"tool": NAME, "args": {...}} or {"final": TEXT}).

The script's first attempt has a bug: its traceback comes back as an
observation and the next step fixes it, as a model would.

    python3 examples/agent_loop.py [--url unix:/run/warren/warrend.sock] [--token TOKEN]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Union

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import warren  # noqa: E402

# --- the tools: what the model may ask for, each a thin layer over the client ----------


def write_file(session: warren.Session, path: str, content: str) -> str:
    done = session.write_file(path, content)
    return f"wrote {done['size']} bytes to {done['path']}"


def run(session: warren.Session, command: str, timeout: str = "60s") -> str:
    r = session.exec(command, timeout=timeout)
    status = "timed out" if r.timed_out else f"exit code {r.exit_code}"
    return f"{status}\nstdout:\n{r.stdout_text}stderr:\n{r.stderr_text}"


def read_file(session: warren.Session, path: str) -> str:
    return session.read_file(path).decode("utf-8", "replace")


def list_files(session: warren.Session, path: str = "") -> str:
    return "\n".join(f"{e.type:9} {e.size:8} {e.name}" for e in session.list_dir(path))


TOOLS: Dict[str, Callable[..., str]] = {
    "write_file": write_file, "run": run, "read_file": read_file, "list_files": list_files,
}

# --- the stand-in for the model ---------------------------------------------------------

Step = Union[Dict[str, Any], Callable[[str], Dict[str, Any]]]

BUGGY = "primes = [n for n in range(2, 50) if all(n % d for d in range(2, n))]\nprint(len(primes)\n"
FIXED = ("primes = [n for n in range(2, 50) if all(n % d for d in range(2, n))]\n"
         "with open('primes.txt', 'w') as f:\n"
         "    f.write(' '.join(map(str, primes)) + '\\n')\n"
         "print(len(primes), 'primes written')\n")


class ScriptedModel:
    """Answers with the next of its steps; a step may be a function of the
    last observation, as a model's answer depends on what it saw."""

    def __init__(self, steps: List[Step]):
        self.steps = list(steps)

    def next_action(self, transcript: List[Dict[str, str]]) -> Dict[str, Any]:
        step = self.steps.pop(0)
        return step(transcript[-1]["content"]) if callable(step) else step


def plan() -> ScriptedModel:
    return ScriptedModel([
        {"tool": "write_file", "args": {"path": "primes.py", "content": BUGGY}},
        {"tool": "run", "args": {"command": "python3 primes.py"}},
        # The observation is a SyntaxError: "fix" the script and run it again.
        lambda seen: {"tool": "write_file", "args": {"path": "primes.py", "content": FIXED}}
        if "SyntaxError" in seen else {"final": "unexpected: " + seen},
        {"tool": "run", "args": {"command": "python3 primes.py"}},
        {"tool": "list_files", "args": {}},
        {"tool": "read_file", "args": {"path": "primes.txt"}},
        lambda seen: {"final": f"There are {len(seen.split())} primes below 50; the largest is {seen.split()[-1]}."},
    ])


# --- the loop ------------------------------------------------------------------------------


def agent(client: warren.Client, model: ScriptedModel, task: str, max_steps: int = 20) -> str:
    transcript = [{"role": "user", "content": task}]
    with client.create_session(limits={"timeout": "2m"}) as session:  # deleted when the loop ends
        for _ in range(max_steps):
            action = model.next_action(transcript)
            if "final" in action:
                return str(action["final"])
            print(f"> {action['tool']} {json.dumps(action['args'])[:70]}")
            try:
                observation = TOOLS[action["tool"]](session, **action["args"])
            except warren.WarrenError as exc:  # a tool's failure is an observation too
                observation = f"error: {exc}"
            print("  " + observation.strip().replace("\n", "\n  "))
            transcript += [{"role": "assistant", "content": json.dumps(action)},
                           {"role": "tool", "content": observation}]
    raise RuntimeError(f"no answer after {max_steps} steps")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="warrend's address (default: $WARREN_URL, else the local socket)")
    p.add_argument("--token", help="API token (default: $WARREN_TOKEN)")
    args = p.parse_args()
    with warren.Client(args.url, args.token) as client:
        answer = agent(client, plan(), "How many primes are there below 50? Keep them in primes.txt.")
    print("answer:", answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
