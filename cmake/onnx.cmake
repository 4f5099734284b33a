# ONNX support: generate protobuf-c code for onnx.proto at build time.
# protoc-c comes from Debian's protobuf-c-compiler, onnx.proto from libonnx-dev
# (/usr/include/onnx/onnx.proto). Nothing generated is committed: the sources land in
# ${CMAKE_BINARY_DIR}/gen and are appended to XFER_GENERATED_SOURCES (CMakeLists.txt adds
# them to the library and puts gen/ on the include path).
find_program(XFER_PROTOC_C protoc-c)
find_file(XFER_ONNX_PROTO onnx.proto PATHS /usr/include/onnx /usr/local/include/onnx NO_DEFAULT_PATH)
if(NOT XFER_PROTOC_C)
  message(FATAL_ERROR "protoc-c not found (Debian: apt-get install protobuf-c-compiler)")
endif()
if(NOT XFER_ONNX_PROTO)
  message(FATAL_ERROR "onnx.proto not found (Debian: apt-get install libonnx-dev)")
endif()
get_filename_component(_xfer_onnx_proto_dir ${XFER_ONNX_PROTO} DIRECTORY)
set(_xfer_gen ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${_xfer_gen}/onnx)
add_custom_command(
  OUTPUT ${_xfer_gen}/onnx/onnx.pb-c.c ${_xfer_gen}/onnx/onnx.pb-c.h
  COMMAND ${XFER_PROTOC_C} --c_out=${_xfer_gen}/onnx -I${_xfer_onnx_proto_dir} ${XFER_ONNX_PROTO}
  DEPENDS ${XFER_ONNX_PROTO}
  COMMENT "protoc-c: generating ONNX protobuf-c code"
  VERBATIM)
set_source_files_properties(${_xfer_gen}/onnx/onnx.pb-c.c PROPERTIES GENERATED TRUE
  COMPILE_OPTIONS "-Wno-unused-parameter")
list(APPEND XFER_GENERATED_SOURCES ${_xfer_gen}/onnx/onnx.pb-c.c)
