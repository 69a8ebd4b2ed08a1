"""Runs a command and prints the peak of its whole process tree's summed RSS (MB) to stderr.

Worker processes (torch's DataLoader) and threads (Deno's workers) both count, so the figure is
comparable between the two. Linux only (reads /proc). Usage: python3 bench/peak_rss.py CMD...
"""
import os
import subprocess
import sys
import time


def tree_rss_kb(root):
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            pass
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


proc = subprocess.Popen(sys.argv[1:])
peak = 0
while proc.poll() is None:
    peak = max(peak, tree_rss_kb(proc.pid))
    time.sleep(0.05)
print(f"peak RSS (process tree): {peak / 1024:.0f} MB", file=sys.stderr)
sys.exit(proc.returncode)
