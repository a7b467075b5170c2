# Linli — build, test and run the neighbourhood safety stack.
# `make help` lists the targets.

SHELL        := /bin/bash
GO           ?= go
BIN          := bin
DIST         := dist
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
LDFLAGS      := -s -w -buildid= -X linli/firmware/version.Version=$(VERSION) -X linli/firmware/version.Epoch=$(SOURCE_DATE_EPOCH)
GOFLAGS_REL  := -trimpath -buildvcs=false
CMDS         := sensord gridhub gridctl
GOLANGCI_VERSION := v2.15.0
GOLANGCI     := $(shell go env GOPATH)/bin/golangci-lint
# Packages that use Fyne's embedded driver (built with -tags noos).
NOOS_PKGS    := ./ui/... ./cmd/kiosk/...
# Targets of `make cross`: os/arch[/arm version].
TARGETS      := linux/arm/6 linux/arm/7 linux/arm64 linux/amd64

export CGO_ENABLED ?= 0
export LANG := en_US.UTF-8

.PHONY: help build run test test-race test-e2e bench bench-scale cross qemu-smoke check fmt vet lint tidy-check \
        release release-check deb desktop clean deps

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z0-9_-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every binary for this machine into bin/
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_REL) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/sensord ./cmd/gridhub ./cmd/gridctl ./cmd/community
	@if [ -d cmd/kiosk ]; then $(GO) build $(GOFLAGS_REL) -tags noos -ldflags '$(LDFLAGS)' -o $(BIN)/kiosk ./cmd/kiosk; fi

run: build ## start a whole simulated community on this machine (embedded broker, no setup)
	$(BIN)/community --bin $(BIN) $(RUNFLAGS)

deps: ## install what the tests need (mosquitto, qemu-user-static) when missing
	@build/deps.sh

test: deps ## run every test (unit, end to end with the embedded broker and mosquitto)
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 10m -tags noos $(NOOS_PKGS)

test-race: deps ## run the tests with the race detector (needs cgo)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...

bench: deps ## run the benchmarks; each figure is printed next to its baseline measured in the same run
	@mkdir -p $(BIN)
	{ $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./... ; \
	  $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 10m -tags noos $(NOOS_PKGS) ; } | tee $(BIN)/bench.txt | build/benchreport.sh

bench-scale: ## issue 10's capacity figure: devices per hub on mochi and on the NATS cluster (long; LINLI_SCALE_SIZES, LINLI_SCALE_DURATION)
	LINLI_SCALE=1 $(GO) test -run '^$$' -bench DevicesPerHub -benchtime 1x -count 1 -timeout 60m ./cmd/e2e/ | build/benchreport.sh

cross: ## build static binaries for linux/arm v6, v7, arm64 and amd64 into dist/
	@for t in $(TARGETS); do \
	  IFS=/ read -r os arch arm <<<"$$t"; \
	  out=$(DIST)/$$os-$$arch$${arm:+v$$arm}; mkdir -p $$out; \
	  echo "cross $$out"; \
	  GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build $(GOFLAGS_REL) -ldflags '$(LDFLAGS)' -o $$out/ ./cmd/sensord ./cmd/gridhub ./cmd/gridctl || exit 1; \
	  if [ -d cmd/kiosk ]; then GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build $(GOFLAGS_REL) -tags noos -ldflags '$(LDFLAGS)' -o $$out/kiosk ./cmd/kiosk || exit 1; fi; \
	done
	@ls -l $(DIST)/*/

qemu-smoke: cross ## run the armv7 and arm64 sensord through meterbox-fire under qemu-user
	build/qemu-smoke.sh $(DIST)

check: fmt vet lint test cross tidy-check ## everything CI checks

fmt: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet, with and without the noos tag
	$(GO) vet ./...
	$(GO) vet -tags noos $(NOOS_PKGS)

$(GOLANGCI):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: $(GOLANGCI) ## golangci-lint (pinned version), with and without the noos tag
	$(GOLANGCI) run ./...
	$(GOLANGCI) run --build-tags noos $(NOOS_PKGS)

tidy-check: ## fail if go mod tidy would change go.mod or go.sum
	@cp go.mod /tmp/linli-go.mod.bak; cp go.sum /tmp/linli-go.sum.bak
	@$(GO) mod tidy
	@if ! cmp -s go.mod /tmp/linli-go.mod.bak || ! cmp -s go.sum /tmp/linli-go.sum.bak; then \
	  echo "go mod tidy changes go.mod/go.sum"; cp /tmp/linli-go.mod.bak go.mod; cp /tmp/linli-go.sum.bak go.sum; exit 1; fi

release: ## signed, reproducible release bundles per target into dist/release (needs LINLI_SIGNING_KEY)
	build/release.sh $(VERSION)

release-check: ## build HEAD's release twice (two clones, the second with an empty build cache) and fail unless the bundles are byte-identical
	build/release.sh check

deb: ## .deb packages per arch into dist/deb
	build/deb.sh $(VERSION)

desktop: ## the kiosk in a desktop window (cgo, GLFW; needs libgl1-mesa-dev xorg-dev)
	CGO_ENABLED=1 $(GO) build -tags desktop -o $(BIN)/kiosk-desktop ./cmd/kiosk

clean: ## remove build output
	rm -rf $(BIN) $(DIST)
