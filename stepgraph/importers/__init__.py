"""Converters from other workflow engines' documents to stepgraph workflow documents."""

from .elevaite import (
    ConversionWarning,
    ElevaiteConversion,
    ElevaiteImportError,
    convert_elevaite,
    import_elevaite_files,
    read_elevaite_documents,
    write_conversion,
)
from .skeleton import AgentSkeleton

__all__ = (
    "AgentSkeleton",
    "ConversionWarning",
    "ElevaiteConversion",
    "ElevaiteImportError",
    "convert_elevaite",
    "import_elevaite_files",
    "read_elevaite_documents",
    "write_conversion",
)
