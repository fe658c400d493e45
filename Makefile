# Strata: the two commands a new machine needs are `make demo` and `make test`.
# Both install what is missing first (Debian packages, only when absent).

SWIFT      ?= swift
APT_PKGS   := libopenblas-dev liblapacke-dev zlib1g-dev
DATA_DIR   := data

.PHONY: deps build test demo data bench bench-compare clean

# Installs the C libraries the package links, only when a header is missing.
deps:
	@missing=""; \
	[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || missing="$$missing libopenblas-dev"; \
	[ -e /usr/include/lapacke.h ] || missing="$$missing liblapacke-dev"; \
	[ -e /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test --disable-swift-testing

clean:
	rm -rf .build
