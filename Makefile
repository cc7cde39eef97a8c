# kesrotate: see README.md and docs/build.md.
#
#   make build     bin/kesrotate and bin/kesrotate-agent (static, reproducible)
#   make test      make lint + every test (installs the npm interop harnesses if npm is there)
#   make demo      a rotation from a fresh vault, in a temporary folder
#   make testnode  bin/kesrotate-testnode, the stand-in for cardano-node (rehearsals)
#   make lint      gofmt check, go vet, staticcheck (pinned), go mod tidy -diff
#   make fuzz      every Fuzz target for FUZZTIME each
#   make repro     build twice in two fresh clones of HEAD and compare the bytes
#   make bench     benchmarks (never part of make test; BENCHCOUNT=5 for medians)
#   make man       regenerate docs/man from the command trees (a test checks it)
#   make release   build + dist/ with SHA256SUMS

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO       ?= go
BIN      ?= bin
DIST     ?= dist
FUZZTIME ?= 30s
BENCH    ?= .
BENCHCOUNT ?= 1

# staticcheck 2026.2.2; v0.8.2 is its module version (the proxy serves the
# module versions, not the year-based release names).
STATICCHECK_VERSION := v0.8.2
TOOLS := $(CURDIR)/$(BIN)/tools
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)

# The version stamped into the binaries: the tag (or commit) of the tree.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
VERSION_VARS := github.com/kesrotate/kesrotate/internal/cli/cold.Version \
                github.com/kesrotate/kesrotate/internal/cli/agent.Version

# Reproducible, static builds: no cgo, no file system paths, no VCS stamp,
# no build id, no timestamps (Go never writes one).
export CGO_ENABLED := 0
# (-X of a variable a binary does not link is ignored, so both go to both.)
BUILDFLAGS := -trimpath -buildvcs=false \
  -ldflags '-s -w -buildid= $(foreach v,$(VERSION_VARS),-X $(v)=$(VERSION))'

# Every cmd/NAME folder that holds Go code is a binary.
CMDS := $(sort $(patsubst cmd/%/,%,$(dir $(wildcard cmd/*/*.go))))

# npm interop harnesses: internal/interop/NAME/{setup.sh,package-lock.json}.
INTEROP := $(patsubst %/setup.sh,%,$(wildcard internal/interop/*/setup.sh))
INTEROP_STAMPS := $(addsuffix /node_modules/.package-lock.json,$(INTEROP))

.PHONY: build testnode test interop demo lint fuzz repro bench man release clean

build:
	@mkdir -p $(BIN)
	$(GO) build $(BUILDFLAGS) -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))
	@echo "built $(addprefix $(BIN)/,$(CMDS)) version $(VERSION)"

# The stand-in for cardano-node, for rehearsals (docs/runbook.md §0): a
# test tool, not a release binary.
testnode:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/kesrotate-testnode ./internal/testnode/cmd/kesrotate-testnode
	@echo "built $(BIN)/kesrotate-testnode"

# make test lints first (gofmt, go vet, staticcheck): CI runs make test,
# so a lint finding fails CI like a failing test.
test: lint interop
	$(GO) test -count=1 ./...

# npm ci runs again only when a package-lock.json is newer than what is
# installed. Without npm the interop tests skip (they fail when CI=true).
interop: $(INTEROP_STAMPS)

internal/interop/%/node_modules/.package-lock.json: internal/interop/%/package-lock.json internal/interop/%/setup.sh
	@if command -v npm >/dev/null; then \
	  bash internal/interop/$*/setup.sh && touch $@; \
	elif [[ "$${CI:-}" == true ]]; then \
	  echo "make: npm not found; CI needs it for internal/interop/$*" >&2; exit 1; \
	else \
	  echo "make: npm not found: the interop tests of internal/interop/$* will be skipped" >&2; \
	fi

demo: build
	bash scripts/demo.sh

$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(BIN)/*')); \
	if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result"; exit 1; }

# Each Fuzz target of each package, one after the other, FUZZTIME each.
fuzz:
	@$(GO) list -e -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
	  grep -qs '^func Fuzz' "$$dir"/*_test.go || continue; \
	  for f in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
	    echo "== fuzz $$pkg $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	  done; \
	done

# Two fresh clones of HEAD at different paths, each built with an empty
# build cache, must give byte-identical binaries.
repro:
	@tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	rev=$$(git rev-parse HEAD); \
	echo "repro: building $$rev twice"; \
	for dir in one/kesrotate the-other-clone/src/kesrotate; do \
	  git clone --quiet --no-hardlinks "$(CURDIR)" "$$tmp/$$dir"; \
	  git -C "$$tmp/$$dir" checkout --quiet --detach "$$rev"; \
	  GOCACHE="$$tmp/cache-$${dir%%/*}" $(MAKE) --no-print-directory -C "$$tmp/$$dir" build BIN=bin; \
	done; \
	a="$$tmp/one/kesrotate/bin"; b="$$tmp/the-other-clone/src/kesrotate/bin"; \
	diff <(cd "$$a" && find . -maxdepth 1 -type f | sort) <(cd "$$b" && find . -maxdepth 1 -type f | sort) || \
	  { echo "repro: the two builds made different files" >&2; exit 1; }; \
	n=0; for f in "$$a"/*; do \
	  [[ -f "$$f" ]] || continue; \
	  name=$$(basename "$$f"); n=$$((n+1)); \
	  cmp "$$f" "$$b/$$name" || { echo "repro: $$name differs between the two builds" >&2; exit 1; }; \
	  (cd "$$a" && sha256sum "$$name"); \
	done; \
	[[ $$n -gt 0 ]] || { echo "repro: no binaries were built" >&2; exit 1; }; \
	echo "repro: $$n binaries byte-identical"

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=$(BENCHCOUNT) ./...

# The man pages are generated, deterministic and committed; the test in
# internal/tools/mangen fails when they are stale.
man:
	$(GO) run ./internal/tools/mangen -out docs/man

release: build
	rm -rf $(DIST)
	@mkdir -p $(DIST)
	cp $(addprefix $(BIN)/,$(CMDS)) $(DIST)/
	cd $(DIST) && sha256sum $(CMDS) > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

clean:
	rm -rf $(BIN) $(DIST)
