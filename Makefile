# One entry point for developers and CI. `make test` works on a fresh Debian 12
# machine: it installs what it needs (apt as root, a pinned virtualenv), then
# runs the unit tests, ansible-test sanity and ansible-lint.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BUILD := .build
COLLECTION := $(BUILD)/ansible_collections/hostperf/tuning
APT_PACKAGES := ethtool iproute2 git util-linux kmod podman runc debootstrap iperf3 tuned shellcheck
LAB_APT_PACKAGES := qemu-system-x86 qemu-utils debootstrap e2fsprogs fdisk openssh-client
export CONTAINERS_CONF := $(CURDIR)/tests/lab/containers.conf
# The VM lab's Molecule scenario is part of `make test`; HOSTPERF_LAB=0 leaves it out (see docs/lab.md).
LAB_TESTS := $(if $(filter 0,$(HOSTPERF_LAB)),,molecule-lab)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(BUILD)
export ANSIBLE_LOCAL_TEMP := $(CURDIR)/$(BUILD)/tmp

.PHONY: test deps lab-deps unit fuzz integration molecule molecule-lab lab lab-up lab-down sanity lint collection build galaxy detect fixtures perf perf-tune perf-plan perf-gate golden lock clean

test: unit integration sanity lint galaxy molecule $(LAB_TESTS)

# Install Debian packages that are missing (as root; otherwise say which).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "make: missing Debian packages:$$missing (run as root to install)" >&2; exit 1; fi; fi
endef

deps: $(VENV)/.installed
	$(call apt_install,$(APT_PACKAGES))

lab-deps: deps
	$(call apt_install,$(LAB_APT_PACKAGES))

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

# The fuzzers at length (make unit runs them with HOSTPERF_FUZZ_EXAMPLES=60 per target), with their figures:
# how many inputs took each path. HOSTPERF_FUZZ_RANDOM=1 draws new inputs instead of the fixed sequence.
fuzz: deps
	HOSTPERF_FUZZ_EXAMPLES=$${HOSTPERF_FUZZ_EXAMPLES:-500} $(BIN)/pytest -q -p no:cacheprovider \
	  --hypothesis-show-statistics tests/unit/plugins/modules/test_fuzz_modules.py tests/unit/plugins/test_fuzz_controller.py

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

# The same roles against the VM lab's real kernels (delegated driver; create/destroy run lab.sh).
# When the lab scenario fails, the end of the log says what a failed lab start saw (CI shows only the end).
molecule-lab: collection lab-deps
	cd $(COLLECTION) && PATH=$(CURDIR)/$(BIN):$$PATH molecule test -s lab || { bash tests/lab/lab.sh report >&2; exit 1; }

lab-up: lab-deps
	bash tests/lab/lab.sh up

lab-down:
	bash tests/lab/lab.sh down

# The main job on the built-in lab: bring it up, detect every host, tune it with proof (tune.yml: the edge VM
# measurably faster over its WAN and kept, the datacenter VM's harmful override caught and rolled back), and take
# the lab down again whatever happened. The run's history goes to .build/lab-history.sqlite.
lab: collection lab-deps
	status=0; bash tests/lab/lab.sh up && \
	$(BIN)/ansible-playbook -i inventories/lab playbooks/detect.yml && \
	$(BIN)/ansible-playbook -i inventories/lab playbooks/tune.yml -e hostperf_history=$(CURDIR)/$(BUILD)/lab-history.sqlite \
	  || status=$$?; \
	bash tests/lab/lab.sh down; exit $$status

build: collection
	cd $(COLLECTION) && $(CURDIR)/$(BIN)/ansible-galaxy collection build --force --output-path $(CURDIR)/$(BUILD)

# The tarball ships no lab, Molecule scenarios or benchmarks; it installs, and ansible-doc renders every module and
# filter from the installed copy.
galaxy: build
	@! tar tzf $(BUILD)/hostperf-tuning-*.tar.gz | grep -E '^(tests/lab|tests/perf|tests/integration|extensions/molecule|inventories/lab)/' \
	  || { echo "make: the tarball ships developer files (galaxy.yml build_ignore)" >&2; exit 1; }
	rm -rf $(BUILD)/installed
	$(BIN)/ansible-galaxy collection install --offline --force -p $(BUILD)/installed $(BUILD)/hostperf-tuning-*.tar.gz
	@for plugin in $$(cd plugins/modules && ls *.py | sed 's/\.py$$//'); do \
	  doc=$$(ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD)/installed $(BIN)/ansible-doc hostperf.tuning.$$plugin) && \
	  echo "$$doc" | head -1 || exit 1; done
	@for plugin in $$(cd plugins/filter && ls *.py | sed 's/\.py$$//'); do \
	  doc=$$(ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD)/installed $(BIN)/ansible-doc -t filter hostperf.tuning.$$plugin) && \
	  echo "$$doc" | head -1 || exit 1; done

# Detect this machine and print its summary.
detect: collection
	$(BIN)/ansible-playbook -i inventories/local/hosts.yml playbooks/detect.yml

fixtures: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/unit/fixtures/synthesize.py

perf: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/perf/detect_speed.py

# Rewrite the golden plans of every fixture host under every profile; review the diff.
golden:
	HOSTPERF_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/plugins/plugin_utils

# Planning NIC and IRQ settings on the 256-CPU fixture beside planning sysctls alone.
perf-plan: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/perf/plan_nic_irq.py

# hostperf.tuning.tune against a loop of ansible.posix.sysctl tasks, side by side (root).
perf-tune: collection
	$(PY) tests/perf/tune_vs_sysctl.py

# How often the regression gate is wrong, on benchmark samples recorded on the lab (tests/perf/samples/).
perf-gate: collection
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/perf/gate_rates.py
	PYTHONPATH=$(CURDIR)/$(BUILD) $(PY) tests/perf/gate_designs.py

lock:
	python3 -m venv $(BUILD)/lock-venv && $(BUILD)/lock-venv/bin/pip install -q -r requirements/test.in
	( echo '# Pinned from requirements/test.in by `make lock`. Do not edit by hand.'; \
	  $(BUILD)/lock-venv/bin/pip freeze ) > requirements/test.txt

clean:
	rm -rf $(BUILD) $(VENV)
