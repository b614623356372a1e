"""A stand-in for Slicer's ``PythonSlicer``, which is CTK's AppLauncher, where tests need its behaviour.

``python launcher_standin.py ARGS...`` runs ``python ARGS...`` as its child, as the launcher runs
``python-real``, and behaves as the launcher does where the background runs depend on it:
- it forwards no signal: SIGTERM or Ctrl+C stop neither the child nor (here) the launcher itself;
- its exit code is the child's when the child exits, and 1 when a signal killed the child (the
  launcher's "exit abnormally" for a crash), so that a crash and an internal error look alike.
"""

import signal
import subprocess
import sys

# The child's output goes straight to the launcher's (PythonSlicer forwards its channels). Signals
# are ignored only once it runs: an ignored signal would stay ignored in the child too.
child = subprocess.Popen([sys.executable, *sys.argv[1:]])
for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
code = child.wait()
sys.exit(1 if code < 0 else code)
