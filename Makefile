# iammap — see README.md. `make demo` and `make test` are the two entry points.
GO        ?= go
KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
BIN       := $(CURDIR)/bin
FUZZTIME  ?= 20s

.PHONY: build kube-bin up down demo test bench lint fuzz clean

## build: the iammap binary in bin/iammap
build:
	$(GO) build -o $(BIN)/iammap .

## kube-bin: kube-apiserver, etcd and kubectl for the local stack, built from Go modules (tools/kube)
kube-bin:
	@if [ ! -x $(BIN)/kube-apiserver ] || [ ! -x $(BIN)/etcd ] || [ ! -x $(BIN)/kubectl ]; then \
	  echo ">>> building kube-apiserver, etcd and kubectl $(KUBE_VERSION) from Go modules."; \
	  echo ">>> This is a one-time cost: about 6-10 minutes on 2 cores and ~3 GB of build cache. Later runs take seconds."; \
	fi
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $(BIN)/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $(BIN)/kubectl k8s.io/kubernetes/cmd/kubectl
	cd tools/kube && $(GO) build -ldflags "-s -w" -o $(BIN)/etcd go.etcd.io/etcd/server/v3

$(BIN)/iammap-devstack: FORCE
	$(GO) build -o $(BIN)/iammap-devstack ./cmd/iammap-devstack
FORCE:

## up: start the local stack in the background and write .local/env
up: kube-bin $(BIN)/iammap-devstack
	$(BIN)/iammap-devstack --dir .local --bin $(BIN) up

## down: stop the local stack
down: $(BIN)/iammap-devstack
	$(BIN)/iammap-devstack --dir .local --bin $(BIN) down

## demo: build everything, start the local stack, run the walkthrough, stop
demo: build up
	@status=0; PATH="$(BIN):$$PATH" bash examples/walkthrough.sh .local/env && \
	  PATH="$(BIN):$$PATH" bash examples/eks-story.sh .local/env || status=$$?; \
	  $(BIN)/iammap-devstack --dir .local --bin $(BIN) down; exit $$status

## test: every test, integration tests on the real local API server included, with -race, plus a short fuzz run
test: kube-bin lint
	$(GO) test -race -count=1 -timeout 20m ./...
	@# No minimisation in the short run: minimising a new input can outlast
	@# -fuzztime, and go test then fails with "context deadline exceeded".
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) -fuzzminimizetime 0 ./awsauth

## bench: Go benchmarks with memory statistics
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: a longer fuzz run of the aws-auth decoder (FUZZTIME=10m make fuzz)
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./awsauth

clean: down
	rm -rf $(BIN) .local
