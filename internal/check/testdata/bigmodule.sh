#!/usr/bin/env bash
# Makes a module of 200 packages of 5 files each that call the accessors
# generated from a 40-flag flags.yaml, warms the build cache, and times
# `vexil check --code ./...` over it (the README's figure).
#
#   internal/check/testdata/bigmodule.sh [DIR]    (default: a new temporary directory)
#
# Offline: everything comes from this repository and the module cache.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
dir="${1:-$(mktemp -d)}"
mkdir -p "$dir"
cd "$dir"
export GOPROXY=off GOFLAGS=-mod=mod

cat > go.mod <<MOD
module example.com/big

go 1.26

require github.com/vexilhq/vexil v0.0.0

replace github.com/vexilhq/vexil => $repo
MOD
cp "$repo/go.sum" go.sum

nflags=40
{
  echo "version: 1"
  echo "package: flags"
  echo "attributes:"
  echo "  user_id: {type: string, key: true}"
  echo "  school_id: {type: int}"
  echo "flags:"
  for ((f = 0; f < nflags; f++)); do
    echo "  flag_$f: {default: false, description: Flag $f., owner: team-$((f % 5)), expires: 2099-01-01, kind: release}"
  done
} > flags.yaml
go build -o "$dir/vexil" "$repo/cmd/vexil"
mkdir -p flags
./vexil generate -f flags.yaml -o flags

for ((p = 0; p < 200; p++)); do
  pkg=$(printf "p%03d" "$p")
  mkdir -p "$pkg"
  dep=""
  if ((p > 0)); then dep=$(printf "p%03d" $(((p - 1) / 2))); fi
  for ((i = 0; i < 5; i++)); do
    {
      echo "package $pkg"
      echo
      echo "import ("
      echo "	\"context\""
      echo
      echo "	\"example.com/big/flags\""
      [[ -n $dep ]] && echo "	\"example.com/big/$dep\""
      echo ")"
      for ((k = 0; k < 4; k++)); do
        f=$(((p * 5 + i * 4 + k) % nflags))
        echo
        echo "func F${i}_$k(ctx context.Context, fl *flags.Flags, t flags.Target) int {"
        echo "	v := fl.For(ctx, t)"
        echo "	n := 0"
        echo "	if v.Flag$f() {"
        echo "		n++"
        echo "	}"
        echo "	if d := v.Flag$(((f + 1) % nflags))Details(); d.Reason() != 0 {"
        echo "		n += len(d.Variant())"
        echo "	}"
        [[ -n $dep ]] && echo "	n += $dep.F${i}_$k(ctx, fl, t)"
        echo "	return n"
        echo "}"
      done
    } > "$pkg/f$i.go"
  done
done

echo "bigmodule: $(find . -name '*.go' -path './p*' | wc -l) files in $(ls -d p* | wc -l) packages under $dir" >&2
go build ./...   # warm the build cache
for run in 1 2 3; do
  start=$(date +%s.%N)
  ./vexil check --code ./... > /dev/null
  end=$(date +%s.%N)
  echo "bigmodule: vexil check --code ./... took $(echo "$end - $start" | bc) s (run $run, warm cache)" >&2
done
