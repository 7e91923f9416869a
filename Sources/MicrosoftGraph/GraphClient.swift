// Microsoft Graph calendar, mail and contacts.
