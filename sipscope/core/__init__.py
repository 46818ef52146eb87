"""The Qt-free engine: readers, SIP parser, model, analysis, layout and exports."""
