"""What the command line and the Open Studio both call: render requests, verify, status, review, edits, export."""
