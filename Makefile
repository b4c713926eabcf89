# iammap — see README.md. `make help` lists the targets: `make unit` is the
# fast loop (no cluster), `make test` runs everything, `make demo` shows it.
GO        ?= go
KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
BIN       := $(CURDIR)/bin
FUZZTIME  ?= 20s

# The local stack's binaries are real files: they are relinked only when
# tools/kube's go.mod or go.sum, or KUBE_VERSION, is newer than they are.
KUBE_BINS  := $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubectl
KUBE_MOD   := tools/kube/go.mod tools/kube/go.sum
KUBE_STAMP := $(BIN)/.kube-version-$(KUBE_VERSION)

.PHONY: help build kube-bin up down demo demo-fleet unit test bench lint fmt-check fuzz clean
# A build that fails or is interrupted leaves no binary that looks current.
.DELETE_ON_ERROR:

## build: the iammap binary in bin/iammap (the default target)
build:
	$(GO) build -o $(BIN)/iammap .

## kube-bin: kube-apiserver, etcd, kubectl (tools/kube) and authenticator-oracle (tools/authenticator) for the local stack, built from Go modules; a no-op when current
kube-bin: $(KUBE_BINS) $(BIN)/authenticator-oracle

define kube_notice
	@if [ ! -e $(BIN)/kube-apiserver ] && [ ! -e $(BIN)/etcd ] && [ ! -e $(BIN)/kubectl ]; then \
	  echo ">>> building kube-apiserver, etcd and kubectl $(KUBE_VERSION) from Go modules."; \
	  echo ">>> This is a one-time cost: about 6-10 minutes on 2 cores and ~3 GB of build cache. Later runs do nothing until tools/kube changes."; \
	fi
endef

$(BIN)/kube-apiserver $(BIN)/kubectl: $(KUBE_MOD) $(KUBE_STAMP)
	$(kube_notice)
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/$(@F)

# etcd's version comes from go.mod alone.
$(BIN)/etcd: $(KUBE_MOD)
	$(kube_notice)
	cd tools/kube && $(GO) build -ldflags "-s -w" -o $@ go.etcd.io/etcd/server/v3

# A new KUBE_VERSION names a new stamp, newer than the binaries. Binaries
# that already report KUBE_VERSION (built before the stamp existed) keep
# counting as current: the stamp is then dated in the past.
$(KUBE_STAMP):
	@mkdir -p $(BIN)
	@rm -f $(BIN)/.kube-version-*
	@touch $@
	@if [ "$$($(BIN)/kube-apiserver --version 2>/dev/null)" = "Kubernetes $(KUBE_VERSION)" ]; then touch -t 200001010000 $@; fi

# aws-iam-authenticator's aws-auth decision, which the local stack's
# webhook asks (tools/authenticator); relinked when its module changes.
AUTHENTICATOR_SRC := tools/authenticator/go.mod tools/authenticator/go.sum $(filter-out %_test.go,$(wildcard tools/authenticator/*/*.go tools/authenticator/*/*/*.go))
$(BIN)/authenticator-oracle: $(AUTHENTICATOR_SRC)
	cd tools/authenticator && $(GO) build -o $@ ./cmd/authenticator-oracle
	@# go build leaves an up-to-date binary untouched; make compares dates.
	@touch $@

$(BIN)/iammap-devstack: FORCE
	$(GO) build -o $(BIN)/iammap-devstack ./cmd/iammap-devstack
FORCE:

## up: start the local stack in the background and write .local/env
up: kube-bin $(BIN)/iammap-devstack
	$(BIN)/iammap-devstack --dir .local --bin $(BIN) up

## down: stop the local stack
down: $(BIN)/iammap-devstack
	$(BIN)/iammap-devstack --dir .local --bin $(BIN) down

## demo: build everything, start the local stack, run the walkthroughs, stop; then demo-fleet
demo: build up
	@status=0; PATH="$(BIN):$$PATH" bash examples/walkthrough.sh .local/env && \
	  PATH="$(BIN):$$PATH" bash examples/eks-story.sh .local/env || status=$$?; \
	  $(BIN)/iammap-devstack --dir .local --bin $(BIN) down; [ $$status -eq 0 ] || exit $$status
	@$(MAKE) --no-print-directory demo-fleet

## demo-fleet: start the local fleet (3 clusters, 2 accounts, no AWS account) in .local/fleet, run examples/fleet.sh over it, stop
FLEET_DIR ?= .local/fleet
demo-fleet: build kube-bin $(BIN)/iammap-devstack
	@status=0; $(BIN)/iammap-devstack --dir $(FLEET_DIR) --bin $(BIN) up --fleet && \
	  PATH="$(BIN):$$PATH" bash examples/fleet.sh $(FLEET_DIR)/env $(FLEET_DIR)/fleet.yaml || status=$$?; \
	  $(BIN)/iammap-devstack --dir $(FLEET_DIR) --bin $(BIN) down; exit $$status

## unit: the fast loop: gofmt check and go test ./... with integration tests skipped (needs no kube binaries)
unit: fmt-check
	IAMMAP_INTEGRATION=0 $(GO) test ./...
	@echo "unit: integration tests skipped; \`make test\` runs them (IAMMAP_INTEGRATION=1)"

## test: every test, integration tests on the real local API server included (IAMMAP_INTEGRATION=1: nothing skips), with -race, the differential test against aws-iam-authenticator, plus lint and short fuzz runs
test: kube-bin lint
	IAMMAP_INTEGRATION=1 $(GO) test -race -count=1 -timeout 20m ./...
	cd tools/authenticator && IAMMAP_INTEGRATION=1 $(GO) test -race -count=1 ./...
	@# No minimisation in the short run: minimising a new input can outlast
	@# -fuzztime, and go test then fails with "context deadline exceeded".
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) -fuzzminimizetime 0 ./awsauth
	$(GO) test -run '^$$' -fuzz FuzzPlainMatchesAuthenticator -fuzztime $(FUZZTIME) -fuzzminimizetime 0 ./awsauth
	cd tools/authenticator && $(GO) test -run '^$$' -fuzz FuzzDifferential -fuzztime $(FUZZTIME) -fuzzminimizetime 0 ./difftest

## bench: Go benchmarks with memory statistics, those on the local API server included
bench: kube-bin
	IAMMAP_INTEGRATION=1 $(GO) test -run '^$$' -bench . -benchmem ./...

## lint: gofmt and go vet
lint: fmt-check
	$(GO) vet ./...
	cd tools/authenticator && $(GO) vet ./...

## fmt-check: fail if gofmt would change a tracked Go file
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## fuzz: a longer fuzz run of the aws-auth decoder, of its single-parse path, and of iammap's whole resolution against aws-iam-authenticator's code (FUZZTIME=10m make fuzz)
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./awsauth
	$(GO) test -run '^$$' -fuzz FuzzPlainMatchesAuthenticator -fuzztime $(FUZZTIME) ./awsauth
	cd tools/authenticator && $(GO) test -run '^$$' -fuzz FuzzDifferential -fuzztime $(FUZZTIME) ./difftest

## clean: stop the stack and remove bin/ (the kube binaries too) and .local/
clean: down
	$(BIN)/iammap-devstack --dir $(FLEET_DIR) --bin $(BIN) down
	rm -rf $(BIN) .local

## help: this list
help:
	@awk '/^## [a-z-]+:/ { t = $$2; sub(/:$$/, "", t); sub(/^## [a-z-]+: */, ""); printf "  %-10s %s\n", t, $$0 }' $(firstword $(MAKEFILE_LIST))

## parity: optional, not part of test: run eksctl's iamidentitymapping/accessentry/utils lines and the same lines with iammap on fresh local stacks and compare (EKSCTL=/path/to/eksctl; docs/parity.md)
.PHONY: parity
parity: build kube-bin $(BIN)/iammap-devstack
	bash tools/parity/parity.sh $(CASES)
