# gr-lgvsc: two commands for a newcomer — `make demo` and `make test`.
.PHONY: setup demo test bench fuzz clean uninstall

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/run_tests.sh

bench: setup
	@scripts/bench.sh

# Fuzz every untrusted-input parser (fuzz/run.py), 1,000,000 inputs each by default; FUZZ_ARGS="--runs N ..."
fuzz:
	@.venv/bin/python -c "import atheris" 2>/dev/null || .venv/bin/pip install -q atheris \
		|| echo "atheris did not install: fuzzing with hypothesis"
	@.venv/bin/python fuzz/run.py $(FUZZ_ARGS)

uninstall:
	@scripts/uninstall.sh

clean:
	rm -rf build build.log out
