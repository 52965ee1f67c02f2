package generator

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/vexilhq/vexil/internal/diagcode"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Object flags: each becomes a Go struct named after the flag, one field
// per key of its variants (which the parser has checked are of one shape),
// and in the GraphQL schema an object type of the same name.

// objectPlan is an object flag's struct.
type objectPlan struct {
	typeName string
	of       string // "flag rate_limit"
	fields   []objectFieldPlan
}

type objectFieldPlan struct {
	def    vexilrt.ObjectField
	goName string // Burst, MaxRPS
	gql    string // burst, maxRps: gqlgen binds it to goName ignoring case
	wide   bool   // an int field with a value beyond 32 bits: int64, not int
}

// object plans fp's struct, claiming its type name in the package and its
// field names in the struct; nil when a name is taken or cannot be made.
func (c *checker) object(fp *flagPlan) *objectPlan {
	f := fp.def
	path := "flags." + f.Name + ".variants"
	pos := f.Pos
	if vp, ok := f.FieldPos["variants"]; ok {
		pos = vp
	}
	if !c.take("pkg", fp.goName, "the struct type of flag "+f.Name, pos, path) {
		return nil
	}
	o := &objectPlan{typeName: fp.goName, of: "flag " + f.Name}
	ns := "object " + f.Name
	gql := map[string]string{}
	ok := true
	for _, fd := range f.Fields {
		name, ws, nok := c.keyName(fd.Name, fmt.Sprintf("field %q of flag %s", fd.Name, f.Name), fd.Pos, path)
		if !nok {
			ok = false
			continue
		}
		if !c.take(ns, name, fmt.Sprintf("field %q of flag %s", fd.Name, f.Name), fd.Pos, path) {
			ok = false
			continue
		}
		fl := objectFieldPlan{def: fd, goName: name, gql: lowerCamel(ws)}
		if prev, dup := gql[strings.ToLower(fl.gql)]; dup {
			c.errorf(diagcode.GraphQLClash, fd.Pos, path, "fields %q and %q of flag %s cannot be told apart by gqlgen, which ignores case", prev, fd.Name, f.Name)
			ok = false
			continue
		}
		gql[strings.ToLower(fl.gql)] = fd.Name
		for _, obj := range f.Objects {
			if i, isInt := obj[fd.Name].(int64); isInt && (i < math.MinInt32 || i > math.MaxInt32) {
				fl.wide = true
			}
		}
		o.fields = append(o.fields, fl)
	}
	if !ok {
		return nil
	}
	return o
}

// checkClientObject refuses what GraphQL cannot carry: a type name of its
// own, and ints beyond its 32-bit Int.
func (c *checker) checkClientObject(fp *flagPlan) {
	f := fp.def
	if graphQLReserved(fp.object.typeName) {
		c.errorf(diagcode.GraphQLClash, f.Pos, "flags."+f.Name, "client flag %q would declare GraphQL type %s, a name GraphQL or vexil already uses; rename the flag", f.Name, fp.object.typeName)
	}
	for _, fl := range fp.object.fields {
		if fl.wide {
			c.errorf(diagcode.GraphQLIntRange, fl.def.Pos, "flags."+f.Name+".variants", "field %s of client flag %q has a value beyond GraphQL's Int, which is 32 bits (%d to %d); keep client flags within it, or serve this one to servers only", fl.def.Name, f.Name, math.MinInt32, math.MaxInt32)
		}
	}
}

func (fl objectFieldPlan) goType() jen.Code {
	switch fl.def.Type {
	case vexilrt.FlagInt:
		if fl.wide {
			return jen.Int64()
		}
		return jen.Int()
	case vexilrt.FlagFloat:
		return jen.Float64()
	case vexilrt.FlagString:
		return jen.String()
	}
	return jen.Bool()
}

func (fl objectFieldPlan) gqlType() string {
	switch fl.def.Type {
	case vexilrt.FlagInt:
		return "Int"
	case vexilrt.FlagFloat:
		return "Float"
	case vexilrt.FlagString:
		return "String"
	}
	return "Boolean"
}

// render declares the struct.
func (o *objectPlan) render(f *jen.File) {
	f.Line()
	f.Add(doc(fmt.Sprintf("%s is a value of %s: one of its variants.", o.typeName, o.of)))
	f.Type().Id(o.typeName).StructFunc(func(g *jen.Group) {
		for _, fl := range o.fields {
			g.Id(fl.goName).Add(fl.goType()).Tag(map[string]string{"json": fl.def.Name})
		}
	})
}

// literal is the struct value of one variant's fields.
func (o *objectPlan) literal(obj map[string]any) jen.Code {
	items := make([]jen.Code, 0, len(o.fields))
	for _, fl := range o.fields {
		var v jen.Code
		switch x := obj[fl.def.Name].(type) {
		case int64:
			// An untyped constant, so the generator's own int size does not matter.
			v = jen.Op(strconv.FormatInt(x, 10))
		default:
			v = jen.Lit(x)
		}
		items = append(items, jen.Id(fl.goName).Op(":").Add(v))
	}
	return jen.Values(items...)
}

// gqlObject is the object type of a client object flag.
func (o *objectPlan) gqlObject() gqlEnum {
	e := gqlEnum{Name: o.typeName, Of: o.of}
	for _, fl := range o.fields {
		e.Values = append(e.Values, fl.gql+": "+fl.gqlType()+"!")
	}
	return e
}

// needsVersion2 reports whether the generated code needs a runtime that
// reads float and object flags: its embedded flags.yaml has them.
func (p *plan) needsVersion2() bool {
	for _, fp := range p.flags {
		if t := fp.def.Type; t == vexilrt.FlagFloat || t == vexilrt.FlagObject {
			return true
		}
	}
	return false
}
