#!/bin/bash
# Every C++ source follows .clang-format (clang-format --dry-run -Werror).
set -euo pipefail
cd "${CKH_SOURCE_DIR:?run through ctest}"
command -v clang-format >/dev/null || { echo "skipped: clang-format not installed"; exit 77; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find helper refresher shared tests -name '*.cpp' -o -name '*.h')
clang-format --dry-run -Werror "${files[@]}"
echo "${#files[@]} files formatted"
