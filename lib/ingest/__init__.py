"""Ingest: turn camera and phone files into streaming-ready titles (`python -m lib.ingest`).

probe reads a source with ffprobe; ladder picks the renditions; encode builds the one ffmpeg
run that makes them all (with poster and seek-preview sprite); playlists writes the master;
publish puts the finished title into the library (a rename on a folder, uploads to a bucket);
command is the command line.
"""
