# gr-lgvsc: two commands for a newcomer — `make demo` and `make test`.
.PHONY: setup demo test bench clean uninstall

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/run_tests.sh

bench: setup
	@scripts/bench.sh

uninstall:
	@scripts/uninstall.sh

clean:
	rm -rf build build.log out
