"""Alerts to auditors: what to send (decide, message), to whom (auditors), how (deliver, webhook_guard),
what was sent (store), reviews that hold alerts back, and the run that ties them (run)."""
