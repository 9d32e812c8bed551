# Warning flags shared by every target; fatal when PROCSUP_WERROR is on (CI).
function(procsup_set_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
        -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
        -Wimplicit-fallthrough
        # Designated initializers that leave members at their defaults are intended.
        -Wno-missing-field-initializers)
    if(PROCSUP_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
