"""Converting the authors' released PLUME checkpoints, tiny checkpoints in their layout, and publishing to the Hub."""

from plume_st.convert.hub import push_folder
from plume_st.convert.official import OfficialCheckpointError, convert_official
from plume_st.convert.tiny_checkpoint import LAYOUTS, write_tiny_official

__all__ = ["LAYOUTS", "OfficialCheckpointError", "convert_official", "push_folder", "write_tiny_official"]
