"""The session's own settings: text size, host tolerance, history window, the log, file dialogs
and restarting the host twin."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.host_gui.widgets import callback, tooltip

TEXT_SIZES = (0.75, 2.5)


class SessionControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.follow_log = True

    def build(self) -> None:
        app = self.app
        dpg.set_item_callback("restart_twin", callback(app, "restart twin", lambda v: app.restart_twin()))
        tooltip("restart_twin", "Start the host twin again with the same options and reconnect to it.")
        with dpg.collapsing_header(label="view", default_open=False, tag="hdr_view"):
            dpg.add_slider_float(label="history window (s)", tag="window", default_value=app.state.history_window_s,
                                 min_value=2.0, max_value=300.0, width=150, format="%.0f",
                                 callback=callback(app, "history window", self.on_window))
            tooltip("window", "Seconds of history in the plots (2 s to 5 min).")
            dpg.add_slider_float(label="text size", tag="text_size", default_value=1.0, min_value=TEXT_SIZES[0],
                                 max_value=TEXT_SIZES[1], width=150, format="%.2f",
                                 callback=callback(app, "text size", self.on_text_size))
            tooltip("text_size", "Scale all text; the panels re-flow to fit.")
            dpg.add_input_text(label="host tolerance", tag="tolerance", default_value=str(app.state.tolerance),
                               width=80, on_enter=True, callback=callback(app, "tolerance", self.on_tolerance))
            tooltip("tolerance", "Largest difference between the board's and the host's softmax scores (0..1) "
                                 "before a host-check mismatch is flagged. Press Enter to apply.")
        with dpg.group(parent="log_bar", horizontal=True):
            dpg.add_button(label="copy", tag="log_copy", callback=callback(app, "copy log", self.on_copy))
            dpg.add_button(label="clear", tag="log_clear", callback=callback(app, "clear log", self.on_clear))
            dpg.add_checkbox(label="follow", tag="log_follow", default_value=True,
                             callback=callback(app, "follow log", self.on_follow))
        tooltip("log_copy", "Copy the whole log to the clipboard.")
        tooltip("log_follow", "Keep the newest line in view.")

    # ---------------------------------------------------------------- callbacks
    def on_window(self, value: Any) -> None:
        self.app.state.history_window_s = float(value)
        self.app.state.version += 1

    def on_tolerance(self, value: Any) -> None:
        try:
            tol = float(value)
        except (TypeError, ValueError):
            self.app.say(f"tolerance must be a number, not {value!r}")
            return
        if not 0.0 <= tol <= 1.0:
            self.app.say(f"tolerance must be between 0 and 1 (scores are probabilities), not {tol}")
            return
        self.app.state.tolerance = tol
        self.app.say(f"host check tolerance {tol}")

    def on_text_size(self, value: Any) -> None:
        self.app.set_text_size(float(value))

    def on_copy(self, value: Any) -> None:
        text = "\n".join(self.app.state.log)
        dpg.set_clipboard_text(text)
        self.app.say(f"log copied ({len(self.app.state.log)} lines)")

    def on_clear(self, value: Any) -> None:
        self.app.state.log.clear()
        self.app.state.log.added += 1  # the view redraws the (now empty) log
        self.app.message = ""

    def on_follow(self, value: Any) -> None:
        self.follow_log = bool(value)

    # ---------------------------------------------------------------- file dialogs
    def browse_button(self, target: str, what: str, directory: bool = False,
                      extensions: tuple[str, ...] = ()) -> str:
        """A '...' button beside the input `target` that opens a file dialog and puts the chosen
        path in it. The dialog is made when opened (a hidden one still costs render time)."""
        button = f"browse_{target}"
        dpg.add_button(label="...", tag=button,
                       callback=callback(self.app, f"browse {what}",
                                         lambda v: self.open_dialog(target, what, directory, extensions)))
        tooltip(button, f"Choose the {what} with a file dialog.")
        return button

    def open_dialog(self, target: str, what: str, directory: bool, extensions: tuple[str, ...]) -> str:
        dialog = f"dialog_{target}"
        if dpg.does_item_exist(dialog):
            dpg.delete_item(dialog)
        current = Path(str(dpg.get_value(target) or "")).expanduser()
        start = current if current.is_dir() else (current.parent if current.parent.is_dir() else Path.cwd())

        def chosen(app_data: Any) -> None:
            path = pick_path(app_data, directory)
            if path:
                dpg.set_value(target, path)
                self.app.say(f"{what}: {path}")
            self.close_dialog(dialog)

        with dpg.file_dialog(tag=dialog, directory_selector=directory, show=True, modal=True, width=640, height=420,
                             callback=callback(self.app, f"choose {what}", chosen),
                             cancel_callback=callback(self.app, f"cancel {what}", lambda v: self.close_dialog(dialog)),
                             default_path=str(start)):
            if not directory:
                dpg.add_file_extension(".*")
                for ext in extensions:
                    dpg.add_file_extension(ext, color=(120, 200, 255, 255))
        return dialog

    def close_dialog(self, dialog: str) -> None:
        if dpg.does_item_exist(dialog):
            dpg.configure_item(dialog, show=False)


def pick_path(app_data: Any, directory: bool) -> str:
    """The path a Dear PyGui file dialog returned ({'file_path_name', 'current_path', 'selections'})."""
    if not isinstance(app_data, dict):
        return ""
    if directory:
        return str(app_data.get("file_path_name") or app_data.get("current_path") or "")
    selections = app_data.get("selections") or {}
    if selections:
        return str(next(iter(selections.values())))
    return str(app_data.get("file_path_name") or "")
