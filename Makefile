# One entry point for developers and CI. `make test` works on a fresh Debian 12
# machine: it installs what it needs (apt as root, a pinned virtualenv), then
# runs the unit tests, ansible-test sanity and ansible-lint.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BUILD := .build
COLLECTION := $(BUILD)/ansible_collections/hostperf/tuning
APT_PACKAGES := ethtool iproute2 git util-linux kmod podman runc debootstrap
export CONTAINERS_CONF := $(CURDIR)/tests/lab/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(BUILD)
export ANSIBLE_LOCAL_TEMP := $(CURDIR)/$(BUILD)/tmp

.PHONY: test deps unit integration molecule sanity lint collection build galaxy detect fixtures perf perf-tune lock clean

test: unit integration sanity lint galaxy molecule

deps: $(VENV)/.installed
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "make deps: missing Debian packages:$$missing (run as root to install)" >&2; fi; fi

$(VENV)/.installed: requirements/test.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/test.txt
	touch $@

# ansible-test and ansible-lint need the collection at ansible_collections/<ns>/<name>.
collection: deps
	@rm -rf $(COLLECTION) && mkdir -p $(COLLECTION) $(ANSIBLE_LOCAL_TEMP)
	@git ls-files -z --cached --others --exclude-standard -- . ':!.ci' | xargs -0 -I{} cp --parents -P {} $(COLLECTION)/

unit: deps
	$(BIN)/pytest -q tests/unit

# The real kernel, as root: a network namespace, a loop device, one vm.* key put back (skips when not root).
integration: deps
	$(BIN)/pytest -q -rs tests/integration

sanity: collection
	@pip_version=$$($(PY) -c "import re, ansible_test, os; print(re.search(r\"pip='([0-9.]+)'\", open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()).group(1))"); \
	  cache=$$HOME/.ansible/test/cache/get_pip_$${pip_version//./_}.py; \
	  [ -s $$cache ] || install -D -m 0644 tests/sanity/bootstrap_pip.py $$cache
	cd $(COLLECTION) && git init -q . && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --requirements --python 3.11 --color no

lint: collection
	cd $(COLLECTION) && $(CURDIR)/$(BIN)/ansible-lint --profile production --offline
	$(BIN)/antsibull-changelog lint

# Molecule's default scenario: the roles on a privileged podman container, verified with testinfra.
molecule: collection
	bash tests/lab/build-container-image.sh
	cd $(COLLECTION) && PATH=$(CURDIR)/$(BIN):$$PATH molecule test -s default

build: collection
	cd $(COLLECTION) && $(CURDIR)/$(BIN)/ansible-galaxy collection build --force --output-path $(CURDIR)/$(BUILD)

# The tarball installs, and ansible-doc renders every module and filter from the installed copy.
galaxy: build
	rm -rf $(BUILD)/installed
	$(BIN)/ansible-galaxy collection install --offline --force -p $(BUILD)/installed $(BUILD)/hostperf-tuning-*.tar.gz
	@for plugin in $$(cd plugins/modules && ls *.py | sed 's/\.py$$//'); do \
	  doc=$$(ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD)/installed $(BIN)/ansible-doc hostperf.tuning.$$plugin) && \
	  echo "$$doc" | head -1 || exit 1; done
	@for plugin in $$(cd plugins/filter && ls *.py | sed 's/\.py$$//'); do \
	  doc=$$(ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD)/installed $(BIN)/ansible-doc -t filter hostperf.tuning.$$plugin) && \
	  echo "$$doc" | head -1 || exit 1; done

# Main job until the VM lab lands (issue 4): detect this machine and print the summary.
detect: collection
	$(BIN)/ansible-playbook -i inventories/local/hosts.yml playbooks/detect.yml

fixtures: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/unit/fixtures/synthesize.py

perf: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/perf/detect_speed.py

# hostperf.tuning.tune against a loop of ansible.posix.sysctl tasks, side by side (root).
perf-tune: collection
	$(PY) tests/perf/tune_vs_sysctl.py

lock:
	python3 -m venv $(BUILD)/lock-venv && $(BUILD)/lock-venv/bin/pip install -q -r requirements/test.in
	( echo '# Pinned from requirements/test.in by `make lock`. Do not edit by hand.'; \
	  $(BUILD)/lock-venv/bin/pip freeze ) > requirements/test.txt

clean:
	rm -rf $(BUILD) $(VENV)
