"""M&V reports: one period as self-contained HTML (matplotlib charts embedded) and PDF via Chromium."""

from agent.report.build import NoReportData, ReportFiles, find_chromium, parse_period, print_pdf, write_report

__all__ = ["NoReportData", "ReportFiles", "find_chromium", "parse_period", "print_pdf", "write_report"]
