/// The dialclip terminal UI: a pure state/view core (TUIState, View, Layout, TextWidth)
/// driven by a thin ncurses layer (Terminal, TUIApp), plus line mode and session files.
/// Entry points: `TUIApp(engine:options:).run()`, `runLineMode(engine:input:output:json:)`.
