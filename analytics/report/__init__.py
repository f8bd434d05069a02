"""The evidence report for auditors: its data, the HTML and spreadsheet renderings, and build."""
