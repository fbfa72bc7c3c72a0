package aigw

import (
	"strings"
	"testing"
)

func multipartForm(sep string, parts ...[2]string) []byte {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + sep + "\r\n" + p[0] + "\r\n\r\n" + p[1] + "\r\n")
	}
	return []byte(b.String() + "--" + sep + "--\r\n")
}

const (
	modelHead = `Content-Disposition: form-data; name="model"`
	fileHead  = `Content-Disposition: form-data; name="file"; filename="model.wav"`
)

func TestFormModelFieldFoundAndReplaced(t *testing.T) {
	body := multipartForm("b0und", [2]string{fileHead, "name=\"model\"\r\n\r\nstt"},
		[2]string{modelHead, "stt"}, [2]string{`Content-Disposition: form-data; name="language"`, "en"})
	for _, ctype := range []string{"multipart/form-data; boundary=b0und",
		`multipart/form-data; boundary="b0und"`, "multipart/form-data;charset=utf-8;BOUNDARY=b0und"} {
		f := parseForm(ctype, body)
		if f == nil || f.model() != "stt" {
			t.Fatalf("%s: no model field", ctype)
		}
		want := strings.Replace(string(body), "\r\n\r\nstt\r\n--b0und\r\nContent-Disposition: form-data; name=\"language\"",
			"\r\n\r\nwhisper-1\r\n--b0und\r\nContent-Disposition: form-data; name=\"language\"", 1)
		if got := string(f.withModel("whisper-1")); got != want {
			t.Fatalf("%s: rewritten form\n%q\nwant\n%q", ctype, got, want)
		}
	}
}

func TestFormWithoutModelField(t *testing.T) {
	for name, c := range map[string][2]string{
		"no model field": {string(multipartForm("b0und", [2]string{fileHead, "bytes"})), "multipart/form-data; boundary=b0und"},
		"no boundary":    {string(multipartForm("b0und", [2]string{modelHead, "stt"})), "multipart/form-data"},
		"truncated":      {"--b0und\r\n" + modelHead + "\r\n\r\nstt", "multipart/form-data; boundary=b0und"},
		"not UTF-8":      {strings.Replace(string(multipartForm("b0und", [2]string{modelHead, "stt"})), "stt", "\xff", 1), "multipart/form-data; boundary=b0und"},
	} {
		if f := parseForm(c[1], []byte(c[0])); f != nil {
			t.Errorf("%s: found model %q", name, f.model())
		}
	}
}
