/// The console's one style sheet, served at `/console/assets/console.css` (the pages' content
/// security policy allows styles from the console itself only: no inline style anywhere).
/// Laid out for a desktop (1280 px) and a phone (390 px): tables scroll inside their card, charts
/// scale to the width, the navigation wraps.
enum ConsoleStyle {
    static let css = """
        :root { --ink: #1c2430; --muted: #5f6b7a; --line: #d9dee5; --paper: #f5f7fa; --card: #fff;
          --a: #2563eb; --b: #0f9d74; --c: #d97706; --d: #9333ea; --good: #0f7b5a; --bad: #b42318; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
        a { color: var(--a); }
        code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
        .top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 10px 20px; background: #111827; color: #fff; }
        .brand { color: #fff; font-weight: 700; text-decoration: none; font-size: 18px; }
        .brand span { font-weight: 400; color: #9ca3af; }
        .sections { display: flex; flex-wrap: wrap; gap: 4px; flex: 1; }
        .sections a { color: #d1d5db; text-decoration: none; padding: 4px 10px; border-radius: 6px; }
        .sections a[aria-current] { background: #374151; color: #fff; }
        .sign-out button { background: none; border: 1px solid #4b5563; color: #e5e7eb; }
        main { max-width: 1240px; margin: 0 auto; padding: 16px 20px 40px; }
        h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 17px; margin: 0 0 10px; } h3 { font-size: 15px; margin: 16px 0 8px; }
        .heading { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px; }
        .ranges { display: flex; gap: 4px; }
        .ranges a { padding: 3px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); text-decoration: none; }
        .ranges a[aria-current] { background: var(--ink); color: #fff; border-color: var(--ink); }
        .muted { color: var(--muted); }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin: 12px 0; }
        .narrow { max-width: 460px; }
        .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px; margin: 12px 0; }
        .tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; }
        .tile .label { display: block; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .tile .value { display: block; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px; }
        .charts .card { margin: 0; }
        figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 6px; }
        svg.chart, svg.timeline { width: 100%; height: auto; display: block; }
        .grid { stroke: #e5e7eb; stroke-width: 1; }
        .axis { fill: var(--muted); font-size: 13px; }
        polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
        polyline.series-a { stroke: var(--a); } polyline.series-b { stroke: var(--b); } polyline.series-c { stroke: var(--c); } polyline.series-d { stroke: var(--d); }
        circle.series-a { fill: var(--a); } circle.series-b { fill: var(--b); } circle.series-c { fill: var(--c); } circle.series-d { fill: var(--d); }
        .bar-ok { fill: var(--b); } .bar-failed { fill: var(--bad); }
        .legend { list-style: none; display: flex; flex-wrap: wrap; gap: 12px; padding: 0; margin: 6px 0 0; font-size: 13px; color: var(--muted); }
        .swatch { display: inline-block; width: 12px; height: 3px; margin-right: 6px; vertical-align: middle; }
        .swatch.series-a { background: var(--a); } .swatch.series-b { background: var(--b); } .swatch.series-c { background: var(--c); } .swatch.series-d { background: var(--d); }
        .table-wrap { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-size: 14px; }
        th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
        th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
        td.wrap { white-space: normal; min-width: 200px; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        .pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; background: #eef2f6; }
        .pill.good { background: #dcfce7; color: var(--good); } .pill.bad { background: #fee4e2; color: var(--bad); } .pill.muted { color: var(--muted); }
        .notice { padding: 10px 12px; border-radius: 8px; background: #eef4ff; }
        .notice.bad { background: #fee4e2; color: var(--bad); } .notice.good { background: #ecfdf3; }
        .token { white-space: pre-wrap; word-break: break-all; background: #111827; color: #e5e7eb; padding: 10px; border-radius: 6px; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
        dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
        form.inline { display: flex; flex-wrap: wrap; align-items: end; gap: 8px 12px; }
        label { display: block; font-size: 13px; color: var(--muted); }
        label.check { display: inline-flex; gap: 4px; align-items: center; margin-right: 10px; color: var(--ink); }
        fieldset { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
        input, select, button { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; }
        input[type=password], .narrow input { width: 100%; margin-bottom: 10px; }
        button { background: var(--ink); color: #fff; border-color: var(--ink); cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); padding: 3px 10px; }
        .budget { display: grid; grid-template-columns: 110px 1fr; gap: 4px 12px; align-items: center; margin-bottom: 8px; }
        .budget progress { grid-column: 2; }
        progress { width: 100%; height: 10px; accent-color: var(--b); } progress.over { accent-color: var(--bad); }
        .meter progress { max-width: 200px; }
        @media (max-width: 600px) {
          main { padding: 10px 12px 30px; }
          .top { padding: 8px 12px; }
          .charts { grid-template-columns: 1fr; }
          .tiles { grid-template-columns: repeat(2, 1fr); }
          .tile .value { font-size: 18px; }
          .budget { grid-template-columns: 1fr; } .budget progress { grid-column: 1; }
        }
        """
}
