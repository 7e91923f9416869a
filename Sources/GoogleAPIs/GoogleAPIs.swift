// Google Calendar, Gmail and People.
