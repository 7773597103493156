"""Web: the app's own HTTP routes (Starlette), beside the pages Streamlit serves.

Media (Range), position reports, share pages, the player's assets and the security headers
every answer carries. Nothing here imports Streamlit or the UI.
"""
