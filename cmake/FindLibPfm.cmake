# FindLibPfm.cmake: libpfm4 (Debian libpfm4-dev), which resolves perf event
# names the way `perf list` spells them for the CPU sampler. libpfm4 ships
# neither a CMake package nor a pkg-config file, so this finds the header
# and the library directly.
#
# Defines LibPfm_FOUND and the imported target LibPfm::LibPfm.
find_path(LibPfm_INCLUDE_DIR perfmon/pfmlib_perf_event.h)
find_library(LibPfm_LIBRARY pfm)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibPfm
  REQUIRED_VARS LibPfm_LIBRARY LibPfm_INCLUDE_DIR)
mark_as_advanced(LibPfm_INCLUDE_DIR LibPfm_LIBRARY)

if(LibPfm_FOUND AND NOT TARGET LibPfm::LibPfm)
  add_library(LibPfm::LibPfm INTERFACE IMPORTED)
  set_target_properties(LibPfm::LibPfm PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${LibPfm_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${LibPfm_LIBRARY}")
endif()
