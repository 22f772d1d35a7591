#!/usr/bin/env bash
# Set up ganzoo on a fresh machine: the offline Fashion-MNIST copy (Debian), a virtual environment in .venv,
# PyTorch, and ganzoo with its built-in plugins and test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fashion-MNIST for offline machines (Debian/Ubuntu as root). Elsewhere ganzoo downloads it on first use.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null \
    && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
    || echo "setup: could not install dataset-fashion-mnist; ganzoo will try to download Fashion-MNIST" >&2
fi

# Debian's Chromium for the browser test of `ganzoo serve` (tests/test_browser.py drives /usr/bin/chromium with
# Playwright; `playwright install` downloads its own browser, which offline machines cannot).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "setup: could not install chromium; tests/test_browser.py needs /usr/bin/chromium" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# torch and torchvision as a matching pair (see docs/install.md for other platforms).
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -e '.[test,ray]'  # ray: the optional executor, tested in CI
echo "setup: ready. Try: .venv/bin/ganzoo list"
