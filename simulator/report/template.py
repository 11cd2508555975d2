"""The page that ``report.html`` fills in.

Kept as a Python string rather than a data file so that it ships with
the package however the package is installed. The page loads nothing:
styles are inline, plots are inline SVG, and there is no script.
"""

from __future__ import annotations

from string import Template

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.2em; font-weight: 600; padding: 0.6em 0.9em;
           border-radius: 4px; margin: 1em 0; }
.verdict.pass { background: #e3f4e8; color: #17602f; }
.verdict.fail { background: #fbe4e2; color: #8c1d13; }
.verdict.none { background: #eef0f3; color: #333; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 0.25em 0.7em; text-align: right; white-space: nowrap;
         border-bottom: 1px solid #eee; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f7f9; }
tr.pass td:last-child { color: #17602f; }
tr.fail td { background: #fdf0ef; }
tr.fail td:last-child { color: #8c1d13; font-weight: 600; }
figure { margin: 0.8em 0; }
figure svg { max-width: 100%; height: auto; }
.notes { color: #6b5200; }
.meta { color: #666; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="meta">$subtitle</p>
<div class="verdict $verdict_class" id="verdict">$verdict</div>
$body
</body>
</html>
"""
)
