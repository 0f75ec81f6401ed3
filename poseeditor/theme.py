"""The app's look: Fusion with a dark palette, and a focus ring that shows on it.

Fusion marks the widget that has the keyboard's focus with a 1-pixel outline a shade darker than the palette's
highlight: on this dark palette (a blue of 53, 106, 195 on buttons of 55, 59, 68) a reviewer found no focus
ring at all, and a person working by keyboard cannot tell where Tab went. FocusRingStyle draws a 2-pixel ring
in the light link blue round buttons, boxes and fields, only when the focus came from the keyboard (as Fusion
itself does: a click gives no ring), and a light 1-pixel frame where Fusion draws its dotted focus rectangle
(check boxes, the current cell of a list)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleFactory

RING = QColor(120, 175, 255)  # the palette's link blue, a little lighter: 6:1 against the buttons' grey
PE, CC = QStyle.PrimitiveElement, QStyle.ComplexControl
RINGED = (PE.PE_PanelButtonCommand, PE.PE_FrameLineEdit)
RINGED_COMPLEX = (CC.CC_ComboBox, CC.CC_SpinBox)


def by_keyboard(option) -> bool:
    state = option.state
    return bool(state & QStyle.StateFlag.State_HasFocus) and bool(state & QStyle.StateFlag.State_KeyboardFocusChange)


def draw_ring(painter, rect, width: float = 2.0, radius: float = 3.0) -> None:
    painter.save()
    painter.setRenderHint(painter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(RING, width))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    inset = width / 2
    painter.drawRoundedRect(QRectF(rect).adjusted(inset, inset, -inset, -inset), radius, radius)
    painter.restore()


class FocusRingStyle(QProxyStyle):
    """Fusion, with the keyboard focus drawn so that it shows on a dark palette."""

    def drawPrimitive(self, element, option, painter, widget=None):
        if element == PE.PE_FrameFocusRect:
            draw_ring(painter, option.rect, 1.0, 2.0)
            return
        super().drawPrimitive(element, option, painter, widget)
        if element in RINGED and by_keyboard(option):
            draw_ring(painter, option.rect)

    def standardIcon(self, icon, option=None, widget=None):
        # the toolbar's "»" for the buttons a narrow window has no room for: Fusion draws it dark, unseen on the
        # dark toolbar (a newcomer at 900 px wide never found Export Animation)
        if icon in (QStyle.StandardPixmap.SP_ToolBarHorizontalExtensionButton,
                    QStyle.StandardPixmap.SP_ToolBarVerticalExtensionButton):
            from .icons import icon as action_icon

            more = action_icon("more")
            if not more.isNull():
                return more
        return super().standardIcon(icon, option, widget)

    def drawComplexControl(self, control, option, painter, widget=None):
        super().drawComplexControl(control, option, painter, widget)
        if control in RINGED_COMPLEX and by_keyboard(option):
            draw_ring(painter, option.rect)


def apply_theme(app) -> None:
    """Fusion with a dark palette: photos read better on a dark surround, as in other image editors."""
    style = FocusRingStyle(QStyleFactory.create("Fusion"))
    app.setStyle(style)
    app._focus_ring_style = style  # the application does not keep the Python object alive
    p = QPalette()
    base, window, text = QColor(30, 32, 38), QColor(45, 48, 56), QColor(225, 228, 235)
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: QColor(40, 43, 50),
        QPalette.ColorRole.ToolTipBase: QColor(20, 22, 26), QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor(55, 59, 68),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: QColor(66, 133, 244), QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 170, 255), QPalette.ColorRole.PlaceholderText: QColor(140, 146, 158),
        QPalette.ColorRole.Mid: QColor(90, 95, 105),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 124, 134))
    app.setPalette(p)
