"""The Panel app: pages as ``pn.viewable.Viewer`` classes on top of :class:`app.service.QueryService`.

Every page reads through the service (which applies the user's access rules and writes the audit log); no page
opens a table. Text from the records reaches the browser only HTML-escaped (:mod:`app.web.render`).
"""
