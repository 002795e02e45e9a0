#!/usr/bin/env bash
# The `docs` stage of scripts/test.sh: the documentation site must build without a warning, and its module page
# must show the options table in a real (headless) browser. See scripts/docs.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/docs.sh" --check
