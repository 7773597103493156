"""UI: everything that draws with Streamlit (the sign-in gate, the grid, the player component,
the share form, the library view). Nothing here imports the web routes.
"""
