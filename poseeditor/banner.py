"""An inline message bar above the canvas: errors and hints without modal dialogs that stop the user's work.

Errors stay until closed or replaced; information fades after a while. An optional action button
(e.g. "Done placing") lets a message carry the next step.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

STYLES = {
    "error": "background: #5c1f24; color: #ffe9e9; border-bottom: 1px solid #8a2c33;",
    "warning": "background: #5a4712; color: #fff5d6; border-bottom: 1px solid #8a6d1c;",
    "info": "background: #1d3d5c; color: #e6f1ff; border-bottom: 1px solid #2d5a86;",
}


class Banner(QFrame):
    actionTriggered = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.kind = ""
        self.action_id = ""
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.action = QPushButton()
        self.action.clicked.connect(self._on_action_clicked)  # bound methods: a lambda keeps the window alive
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 6, 6)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.action)
        lay.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.dismiss)
        self.setVisible(False)

    def show_message(self, text: str, kind: str = "error", action: str = "", action_id: str = "",
                     timeout_ms: int = 0):
        self.kind, self.action_id = kind, action_id
        self.setStyleSheet(f"Banner {{ {STYLES[kind]} }} QLabel {{ color: inherit; }}")
        self.text.setText(text)
        self.action.setText(action)
        self.action.setVisible(bool(action))
        self.setVisible(True)
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""

    def _on_action_clicked(self):
        self.actionTriggered.emit(self.action_id)

    def dismiss(self):
        self._timer.stop()
        self.setVisible(False)
        self.kind = ""
