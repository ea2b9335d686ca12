"""The panels of the main window, each a small widget with its dependencies passed in."""


def page_header(title: str, summary: str, *buttons):
    """A page's head row: bold title over a muted, wrapping summary, then the page's buttons on the right.

    Returns:
        (layout, summary label) — pages update the summary as their content changes.
    """
    from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout

    title_label = QLabel(title)
    title_label.setObjectName("panelTitle")
    summary_label = QLabel(summary)
    summary_label.setObjectName("muted")
    summary_label.setWordWrap(True)
    text = QVBoxLayout()
    text.addWidget(title_label)
    text.addWidget(summary_label)
    head = QHBoxLayout()
    head.addLayout(text, 1)
    for button in buttons:
        head.addWidget(button)
    return head, summary_label
