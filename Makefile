# templates-candidate-resource
#
#   make build          static binaries into build/image/opt/resource/{check,in,out}
#   make image-context  + CA bundle and a 1777 /tmp: build/image is the image's root filesystem
#   make image          + build the image $(IMAGE) from Dockerfile (buildah, podman or docker)
#   make image-test     build the image with buildah, unpack it with umoci and run its
#                       binaries in a chroot against versitygw: publish -> check -> get
#
# See the comment at the top of Dockerfile for why the image is built this way.

SHELL := /bin/bash

GO            ?= go
GOOS          ?= linux
GOARCH        ?= $(shell $(GO) env GOARCH)
IMAGE         ?= templates-candidate-resource:dev
# Not a knob: Dockerfile copies build/image/ (the context is the repository root).
IMAGE_ROOTFS  := build/image
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
RESOURCE_BINS := check in out

.PHONY: build image-context image image-test

build:
	mkdir -p $(IMAGE_ROOTFS)/opt/resource
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags "-s -w" \
		-o $(IMAGE_ROOTFS)/opt/resource/ $(addprefix ./,$(RESOURCE_BINS))

image-context: build
	@test -s "$(CA_BUNDLE)" || { echo "CA bundle $(CA_BUNDLE) not found: set CA_BUNDLE=<PEM file>" >&2; exit 1; }
	install -d $(IMAGE_ROOTFS)/etc/ssl/certs
	install -m 0644 $(CA_BUNDLE) $(IMAGE_ROOTFS)/etc/ssl/certs/ca-certificates.crt
	rm -rf $(IMAGE_ROOTFS)/tmp
	install -d -m 1777 $(IMAGE_ROOTFS)/tmp

image: image-context
	IMAGE='$(IMAGE)' scripts/image.sh

image-test:
	scripts/image-test.sh

# The README's commands. `make test` installs the pinned test tools once
# (scripts/install-tools.sh) and runs every spec: all packages with the
# integration suite against versitygw, then the integration suite again
# against SeaweedFS (README "Stores"). Both runs always run; it fails if either
# fails. One store alone: TC_S3_STORE=seaweedfs go test -count=1 ./integration/
# -count=1: the integration, demo and bench specs compile the binaries
# themselves, so go test's cache cannot see that they changed.
.PHONY: test demo
test:
	@tools="$$(scripts/install-tools.sh)" || exit 1; export PATH="$$tools:$$PATH"; \
	echo "== go test ./... (the integration suite against versitygw)"; \
	TC_S3_STORE=versitygw $(GO) test -count=1 ./...; first=$$?; \
	echo "== go test ./integration/ (against SeaweedFS)"; \
	TC_S3_STORE=seaweedfs $(GO) test -count=1 ./integration/; second=$$?; \
	if [ $$first -ne 0 ] || [ $$second -ne 0 ]; then \
		echo "make test: FAILED (versitygw run exit $$first, SeaweedFS run exit $$second)" >&2; exit 1; fi

demo:
	$(GO) run ./demo

# The performance bars of the README's "Performance" against versitygw, each beside its
# baseline (bench/main.go); BENCH_FLAGS=-quick or BENCH_FLAGS='-only P1,P5'.
.PHONY: bench
bench:
	$(GO) run ./bench $(BENCH_FLAGS)
