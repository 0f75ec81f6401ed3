"""The engine panel: which backend draws the result, with what weights, on which device.

Every backend the registry knows is listed (backends added later appear by themselves), each with the state of
its weights; backends that failed to import are listed greyed out with the reason. A backend without weights
stays selectable: the result is then drawn by the warp backend and the panel says how to get weights.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QStyle,
                               QStyleOptionComboBox, QStylePainter, QVBoxLayout, QWidget)

from .widgets import Spinner

WEIGHTS_TEXT = {"built-in": "needs no weights", "starter": "starter weights", "file": "weights loaded",
                "none": "no weights"}
# what the chooser shows after a backend's title (short: the panel below says the rest)
WEIGHTS_TAG = {"built-in": "", "starter": " · starter", "file": " · loaded", "none": " · no weights"}


class ElidedCombo(QComboBox):
    """A combo box that cuts its current text with "…" when it is narrower than the text (QComboBox clips it
    mid-letter: "Deformable GAN + self-attention · st") and says the whole text in its tooltip. Its width never
    follows the items, so a long title cannot widen the panel; the list it opens is as wide as its items. The
    mouse wheel turns it only once it has the focus (clicked or tabbed to): scrolling the panel over it switched
    the engine, starting a network's load of seconds mid-drag (a newcomer's review)."""

    def __init__(self, min_chars: int = 12, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.currentIndexChanged.connect(self._update_tip)
        self.model().dataChanged.connect(self._update_tip)  # setItemText on the current item
        self.model().rowsInserted.connect(self._update_tip)

    def wheelEvent(self, e):
        if self.hasFocus():
            super().wheelEvent(e)
        else:
            e.ignore()  # to the scroll area round the panel

    def _field(self, opt: QStyleOptionComboBox):
        return self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)

    def shown_text(self) -> str:
        """The current text as painted: whole when it fits the box, else cut with "…"."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        room = self._field(opt).width() - 4  # CE_ComboBoxLabel's own inset
        if not opt.currentIcon.isNull():
            room -= opt.iconSize.width() + 4
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideRight, max(room, 0))

    def paintEvent(self, e):
        p = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        p.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self.shown_text()
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def _update_tip(self, *_):
        """The current item's tooltip when it has one (it starts with the whole text), else the whole text."""
        i = self.currentIndex()
        tip = self.itemData(i, Qt.ItemDataRole.ToolTipRole) if i >= 0 else None
        self.setToolTip(tip if tip and str(tip).startswith(self.currentText()) else self.currentText())


class EnginePanel(QWidget):
    backendChosen = Signal(str)
    deviceChosen = Signal(str)
    loadWeightsClicked = Signal()
    trainClicked = Signal()
    manageWeightsClicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.catalogue: dict[str, dict] = {}
        self.current: dict | None = None
        self.refs = 1

        self.backend = ElidedCombo(14)
        self.backend.setAccessibleName("Backend")  # a screen reader named the boxes by nothing
        self.backend.addItem("Loading…")
        self.backend.setEnabled(False)
        self.backend.activated.connect(self._on_backend)
        # what is loading now (the engine at start-up, a backend, a weights file), with a spinner
        self.status_spinner = Spinner()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status_row = QWidget()
        srow = QHBoxLayout(self.status_row)
        srow.setContentsMargins(0, 0, 0, 0)
        srow.addWidget(self.status_spinner, 0, Qt.AlignmentFlag.AlignTop)
        srow.addWidget(self.status, 1)
        self.status_row.setVisible(False)
        self.set_status("Starting the engine…")  # until the worker says what it is loading
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: palette(placeholder-text);")

        self.weights = QLabel("—")
        self.weights.setWordWrap(True)
        self.weights.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_btn = QPushButton("Load weights…")
        self.load_btn.setToolTip("Load a .safetensors weights file (made by poseeditor-train)")
        self.load_btn.clicked.connect(self.loadWeightsClicked.emit)
        self.load_btn.setEnabled(False)
        self.manage_btn = QPushButton("Manage weights…")
        self.manage_btn.setToolTip("Your weights files and the starter weights: use, rename, delete, import, export")
        self.manage_btn.clicked.connect(self.manageWeightsClicked.emit)
        self.train_btn = QPushButton("Train on This Person…")
        self.train_btn.setToolTip("Fine-tune a backend on the reference photos or a video of this person "
                                  "(also Engine > Train on This Person…)")
        self.train_btn.clicked.connect(self.trainClicked.emit)
        self.train_btn.setObjectName("trainButton")

        self.device = ElidedCombo(8)
        self.device.setAccessibleName("Device")
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA (GPU)", "cuda")
        self._set_item_enabled(self.device, 1, False, "No usable CUDA GPU on this computer")
        self.device.activated.connect(self._on_device_activated)  # bound: a lambda keeps the window alive

        # what the network computes in: "CPU · bf16" on a processor with native bf16, else "CPU · fp32"
        self.runs_on = QLabel("")
        self.runs_on.setWordWrap(True)
        self.runs_on.setObjectName("runsOn")
        # a newcomer asked why some networks said fp32 and others bf16 on the same processor
        self.runs_on.setToolTip("Precision of the network: bf16 where the processor computes it natively and this "
                                "network draws at least 10% faster in it (measured once per network on this "
                                "machine, then remembered; pictures over 40 dB PSNR against fp32), fp32 otherwise. "
                                "So networks differ on one processor. POSEEDITOR_PRECISION=fp32 forces fp32.")
        self.timing = QLabel("")
        self.timing.setWordWrap(True)
        self.multishot = QLabel("")
        self.multishot.setWordWrap(True)
        self.unavailable = QLabel("")
        self.unavailable.setWordWrap(True)
        self.unavailable.setStyleSheet("color: palette(placeholder-text);")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # in a narrow dock a box goes under its label rather than widening the panel
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Backend", self.backend)
        # the long texts and the buttons take the panel's whole width, not the field column's: in the field
        # column the texts wrapped to half as many words a line and pushed the training button below the fold
        # on a 1366x768 screen. The weights text says itself what it is about ("Starter weights", "Loaded
        # weights: …")
        form.addRow(self.status_row)
        form.addRow(self.summary)
        form.addRow(self.weights)
        # one button a row: side by side they would widen the panel and squeeze the canvas. Training first: with
        # starter weights it is what makes the result look like this person
        form.addRow(self.train_btn)
        form.addRow(self.load_btn)
        form.addRow(self.manage_btn)
        form.addRow("Device", self.device)
        form.addRow("Runs on", self.runs_on)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.line = line
        lay = QVBoxLayout(self)
        m = lay.contentsMargins()
        lay.setContentsMargins(6, m.top(), 6, m.bottom())  # the dock's own frame and scroll bar are the rest
        lay.addLayout(form)
        lay.addWidget(line)
        lay.addWidget(self.timing)
        lay.addWidget(self.multishot)
        lay.addWidget(self.unavailable)
        lay.addStretch(1)
        self._update_rule()
        # The narrowest the panel can be without cutting anything: the widest thing that cannot wrap, the
        # training button bold as when highlighted (the boxes elide, the texts wrap). Fixed, so the dock can keep
        # it as its own minimum (keep_room): narrower, the scroll area cut the wrapped texts at the right edge
        # and scrolled sideways to a focused field.
        self._set_primary(self.train_btn, True)
        self.setMinimumWidth(self.minimumSizeHint().width())
        self._set_primary(self.train_btn, False)

    def keep_room(self, scroll: QScrollArea) -> None:
        """Make the scroll area the panel sits in (and with it the dock) never narrower than the panel, with
        room for the vertical scroll bar: a saved or dragged narrower width is widened to it."""
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(self.minimumWidth() + bar + 2 * scroll.frameWidth())

    def _on_device_activated(self, row: int):
        self.deviceChosen.emit(self.device.itemData(row))

    @staticmethod
    def _set_item_enabled(combo: QComboBox, row: int, on: bool, tip: str = ""):
        model = combo.model()
        if isinstance(model, QStandardItemModel):
            item = model.item(row)
            flags = item.flags()
            item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled if on else flags & ~Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip(tip)

    # ----- from the worker --------------------------------------------------------------------------------
    def set_catalogue(self, cat: dict):
        self.catalogue = {b["name"]: b for b in cat["backends"]}
        self.backend.clear()
        if cat.get("failed"):
            self.backend.addItem("Engine not available")
            self.backend.setEnabled(False)
            self.set_status("")
            self.summary.setText(f"The engine did not load: {cat['failed']}. The warp preview still follows "
                                 f"your edits; restart PoseEditor to try again.")
            return
        for b in cat["backends"]:
            self.backend.addItem("", b["name"])
            self._describe_item(self.backend.count() - 1, b, b["weights"])
        for name, why in cat.get("unavailable", {}).items():
            self.backend.addItem(f"{name} · unavailable", name)
            self._set_item_enabled(self.backend, self.backend.count() - 1, False, why)
        self.backend.setEnabled(True)
        self._set_item_enabled(self.device, 1, bool(cat.get("cuda")),
                               "" if cat.get("cuda") else "No usable CUDA GPU on this computer")
        un = cat.get("unavailable") or {}
        self.unavailable.setText("Unavailable backends: " + "; ".join(f"{k} ({v})" for k, v in un.items())
                                 if un else "")
        self.unavailable.setVisible(bool(un))
        self._update_rule()

    def _describe_item(self, row: int, entry: dict, kind: str):
        """A chooser row's text, and its tooltip: the whole text first (the box cuts it with "…" when narrow),
        then what the backend does and its weights."""
        text = f"{entry['title']}{WEIGHTS_TAG[kind]}"
        self.backend.setItemText(row, text)
        self.backend.setItemData(row, f"{text}\n{entry['summary']}\nWeights: {WEIGHTS_TEXT[kind]}",
                                 Qt.ItemDataRole.ToolTipRole)

    def set_backend_info(self, info: dict):
        self.current = info
        name = info["name"]
        i = self.backend.findData(name)
        if i >= 0:
            self.backend.setCurrentIndex(i)
            entry = self.catalogue.get(name)
            if entry is not None:
                entry["weights"] = info["weights_kind"]
                self._describe_item(i, entry, info["weights_kind"])
        self.summary.setText(self.catalogue.get(name, {}).get("summary", ""))
        kind = info["weights_kind"]
        title = info.get("title") or name
        if kind == "built-in":
            text = "<b>Built in:</b> this backend needs no weights."
        elif kind == "none":
            text = (f"<b>No weights yet.</b> The warp backend draws the result until {title} has some. To make "
                    f"weights for this person, use <b>Engine &gt; Train on This Person…</b> (or "
                    f"<code>poseeditor-train fit --backend {name} ...</code>), then <i>Load weights…</i>")
        elif kind == "starter":
            from .weights_library import starter_learnt

            # what they learnt from in the weights manager's words (SPGNet's also learnt real photos)
            learnt = info.get("starter_learnt") or starter_learnt(None)
            text = (f"<b>Starter weights</b>, trained on {_html(learnt)}: the photo's own head, arms and "
                    f"legs are moved as the warp backend moves them, and {title} redraws only a body whose shape "
                    f"changes. To make it draw this person, use <b>Engine &gt; Train on This Person…</b>")
        else:
            text = f"<b>Loaded weights:</b> {_html(info['weights_label'] or '')}"
            if info.get("weights_path"):  # the file's name (a path cannot wrap); the whole path is in the tooltip
                # cut to the panel's narrowest width (measured in the normal font: the small one is narrower)
                name = self.weights.fontMetrics().elidedText(Path(info["weights_path"]).name,
                                                            Qt.TextElideMode.ElideMiddle, self.minimumWidth() - 24)
                text += f"<br><small>{_html(name)}</small>"
        self.weights.setText(text)
        self.weights.setToolTip("\n".join(t for t in (info.get("weights_label"), info.get("weights_path")) if t))
        # the way to good results is training: make its button stand out while the weights are not the person's
        self._set_primary(self.train_btn, kind in ("starter", "none"))
        self.load_btn.setEnabled(info.get("needs_weights", False))
        self.device.setCurrentIndex(1 if str(info.get("device", "cpu")).startswith("cuda") else 0)
        self.runs_on.setText(info.get("runs_on") or "")
        self.set_timing(info.get("last_ms"))
        self._update_multishot()

    def _set_primary(self, button: QPushButton, on: bool):
        button.setProperty("primary", on)
        button.setStyleSheet("QPushButton#trainButton { background: palette(highlight); "
                             "color: palette(highlighted-text); font-weight: 600; }" if on else "")

    def set_status(self, text: str):
        """Something is loading (text) or done (""): a spinner and the text under the backend chooser."""
        self.status.setText(text)
        self.status_row.setVisible(bool(text))
        self.status_spinner.set_busy(bool(text))

    def set_timing(self, ms: float | None, steady_ms: float | None = None):
        """The last full render's time, and which backend draws while dragging: decided, as the render thread
        decides it (render_tiers.live_uses), from the steady time, not from this one render."""
        from .render_tiers import live_uses

        if not self.current:
            return
        name = self.current["name"]
        if ms is None:
            self.timing.setText("")
            self._update_rule()
            return

        def fmt(v):
            return f"{v:.0f} ms" if v < 1000 else f"{v / 1000:.2f} s"

        steady = ms if steady_ms is None else steady_ms
        t = fmt(ms) if abs(steady - ms) < 0.2 * max(ms, 1) else f"{fmt(ms)} (typically {fmt(steady)})"
        live = ("the same backend" if live_uses(name, steady)
                else "the warp backend (too slow to follow a drag)")
        self.timing.setText(f"Last full render: {t}. While you drag, the preview uses {live}.")
        self._update_rule()

    def _update_rule(self):
        """The rule and the notes under it only show when there is a note: no empty boxed-off area."""
        self.timing.setVisible(bool(self.timing.text()))
        self.line.setVisible(any(w.text() for w in (self.timing, self.multishot, self.unavailable)))

    def set_reference_count(self, n: int):
        self.refs = n
        self._update_multishot()

    def _update_multishot(self):
        if not self.current:
            return
        if self.refs > 1 and not self.current["multi_shot"]:
            self.multishot.setText(f"⚠ {self.current['title']} uses only the first reference photo; "
                                   f"the other {self.refs - 1} are ignored.")
        elif self.refs > 1:
            self.multishot.setText(f"Uses all {self.refs} reference photos.")
        else:
            self.multishot.setText("")
        self.multishot.setVisible(bool(self.multishot.text()))
        self._update_rule()

    def _on_backend(self, i: int):
        name = self.backend.itemData(i)
        if name and (self.current is None or name != self.current["name"]):
            # what is chosen, at once: the panel described the backend before it until the new one had loaded
            entry = self.catalogue.get(name, {})
            self.summary.setText(entry.get("summary", ""))
            self.weights.setText(f"Loading {entry.get('title', name)}…")
            self.weights.setToolTip("")
            self.load_btn.setEnabled(False)
            self.timing.setText("")
            self._update_rule()
            self.backendChosen.emit(name)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
