# SPDX-License-Identifier: GPL-3.0-or-later
"""Start the GNU Radio Companion GUI on flowgraphs (as ``gnuradio-companion FILE...`` does), report
what it loaded as one JSON line, and close it. Run with GNU Radio's interpreter under a display
(``xvfb-run -a /usr/bin/python3 tests/grc_gui_probe.py FLOWGRAPH.grc``); tests/test_grc_gui.py does.

The JSON: ``pages`` (per file: ``blocks`` as {id: key}, ``dummy`` keys GRC could not find,
``errors`` from GRC's validation), ``console`` (lines GRC printed to its console). Exits 1 if the
GUI never came up within the timeout.
"""

import importlib
import json
import os
import sys

__all__ = ["main"]


def main(paths, timeout_s=120.0):
    import gi

    gi.require_version("Gtk", "3.0")
    gi.require_version("PangoCairo", "1.0")
    from gi.repository import GLib
    from gnuradio import gr
    from gnuradio.grc.core import Messages
    # Platform before Application, the order of GRC's main(): the other order is a circular import
    Platform = importlib.import_module("gnuradio.grc.gui.Platform").Platform
    Application = importlib.import_module("gnuradio.grc.gui.Application").Application

    console = []
    platform = Platform(version=gr.version(), version_parts=(gr.major_version(), gr.api_version(),
                        gr.minor_version()), prefs=gr.prefs(), install_prefix=gr.prefix())
    platform.build_library()
    app = Application([os.path.abspath(p) for p in paths], platform)
    result = {"pages": [], "console": console, "ok": False}

    def inspect():
        win = getattr(app, "main_window", None)
        pages = win.get_pages() if win is not None else []
        if len(pages) < len(paths):
            return True  # not loaded yet: look again
        Messages.register_messenger(console.append)
        for page in pages:
            fg = page.flow_graph
            fg.rewrite()
            fg.validate()
            result["pages"].append({
                "file": page.file_path,
                "blocks": {b.name: b.key for b in fg.blocks},
                "dummy": sorted(b.key for b in fg.blocks if b.is_dummy_block),
                "errors": [str(e) for e in fg.get_error_messages()],
            })
        result["ok"] = True
        app.quit()
        return False

    def give_up():
        app.quit()
        return False

    GLib.timeout_add(200, inspect)
    GLib.timeout_add(int(timeout_s * 1000), give_up)
    app.run([])
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
