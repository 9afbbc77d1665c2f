# FindLibDW.cmake: elfutils' libdw (Debian libdw-dev), which the tracer uses
# to symbolize stack frames. elfutils installs a pkg-config file but no CMake
# package, so this finds the header and the two libraries directly.
#
# Defines LibDW_FOUND and the imported target LibDW::LibDW (libdw and
# libelf, with elfutils' include directory).
find_path(LibDW_INCLUDE_DIR elfutils/libdwfl.h)
find_library(LibDW_LIBRARY dw)
find_library(LibDW_ELF_LIBRARY elf)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibDW
  REQUIRED_VARS LibDW_LIBRARY LibDW_ELF_LIBRARY LibDW_INCLUDE_DIR)
mark_as_advanced(LibDW_INCLUDE_DIR LibDW_LIBRARY LibDW_ELF_LIBRARY)

if(LibDW_FOUND AND NOT TARGET LibDW::LibDW)
  add_library(LibDW::LibDW INTERFACE IMPORTED)
  set_target_properties(LibDW::LibDW PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${LibDW_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${LibDW_LIBRARY};${LibDW_ELF_LIBRARY}")
endif()
