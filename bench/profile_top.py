"""Where the time goes: the top functions of a py-spy speedscope profile, per thread.

    python bench/profile_top.py PROFILE.speedscope.json [--top 25] [--thread NAME]

Self time is the share of the thread's busy samples in which the function was the innermost
frame; total time the share in which it was anywhere on the stack (py-spy records busy
samples only, so an idle event loop counts for nothing).
"""

import argparse
import collections
import json
import os


def label(frame: dict, lines: bool) -> str:
    path = frame.get("file") or ""
    parts = path.split(os.sep)
    short = os.sep.join(parts[-2:]) if "corral" in parts else os.path.basename(path)
    if not lines:
        return f"{frame['name']} ({short})"
    return f"{frame['name']} ({short}:{frame.get('line', '?')})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", help="only threads whose name contains this")
    parser.add_argument("--lines", action="store_true", help="one row per line, not function")
    args = parser.parse_args()
    with open(args.profile) as file:
        data = json.load(file)
    frames = data["shared"]["frames"]
    for profile in data["profiles"]:
        if args.thread and args.thread not in profile["name"]:
            continue
        self_weight = collections.Counter()
        total_weight = collections.Counter()
        busy = 0
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            busy += weight
            self_weight[label(frames[stack[-1]], args.lines)] += weight
            for name in {label(frames[index], args.lines) for index in stack}:
                total_weight[name] += weight
        if not busy:
            continue
        print(f"\n== {profile['name']}: {busy:.1f} busy {data.get('unit', 'units')}")
        print(f"{'self':>6} {'total':>6}  function")
        for name, weight in self_weight.most_common(args.top):
            print(f"{weight / busy:6.1%} {total_weight[name] / busy:6.1%}  {name}")
        print("-- by total (inclusive) time:")
        for name, weight in total_weight.most_common(args.top):
            print(f"{self_weight[name] / busy:6.1%} {weight / busy:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
