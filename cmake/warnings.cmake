# Warning flags shared by every target; fatal when PROCSUP_WERROR is on (CI).
function(procsup_set_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
        -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
        -Wimplicit-fallthrough
        # Designated initializers that leave members at their defaults are intended.
        -Wno-missing-field-initializers
        # GCC 12 reports false overlaps in std::string concatenation at -O2/-O3
        # (GCC bug 105651); drop when the compiler is GCC 13 or newer.
        $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
    if(PROCSUP_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
