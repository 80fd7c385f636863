"""The media server: calls through Janus's VideoRoom (an SFU), recorded on the server.

A call with a media server configured gets one VideoRoom (room secret and pin, recorded into
its own folder). The app stays the one authority on who joins: it hands each participant
a token for that one call (Janus's stored token, limited to the VideoRoom plugin, and the
room's `allowed` list); Janus's api_secret and admin_secret stay with the app. After the
call, a job turns each participant's .mjr files into one WebM file and stores it as the
case's evidence with its hash (kind "recording").

    janus.py       the HTTP client for Janus's API and admin API
    config.py      a node's configuration folder (tests, the demo, the deployment docs)
    recordings.py  .mjr files to WebM (janus-pp-rec, ffmpeg): files only, no database
    service.py     who gets a seat in which room; closing rooms, storing their recordings
"""
